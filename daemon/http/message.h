// What a route handler sees and returns: a parsed request (with the client address the
// limits apply to) and a response, free of Beast so handlers and their tests need no
// sockets. Thread contract: plain values.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace credd::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // Percent-decoded, without the query.
  std::string query;   // Raw, without the "?".
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string client;   // The client's address (after trusted proxies), for limits and logs.
  bool secure = false;  // Reached over HTTPS, here or at a trusted proxy.
  // The peer is one of http.trusted_proxies: its X-Forwarded-* and the SSO identity
  // headers it passes may be believed. Nobody else's are.
  bool via_trusted_proxy = false;
  std::map<std::string, std::string> params;  // The route's {name} segments.

  // The first header of this name (case-insensitive); empty when absent.
  std::string Header(std::string_view name) const;
  // A query parameter, percent-decoded ("+" is a space); empty when absent.
  std::string QueryParam(std::string_view name) const;
  // The route parameter; empty when absent.
  std::string Param(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // Beyond the server's own.

  static Response Text(int status, std::string body);
  static Response Json(int status, std::string body);
  static Response Html(int status, std::string body);
};

// `s` without leading and trailing spaces, tabs and carriage returns.
std::string_view TrimBlanks(std::string_view s);

// ASCII case-insensitive equality (header names, tokens like "100-continue").
bool EqualsIgnoringCase(std::string_view a, std::string_view b);

// %XX decoding; "+" becomes a space only when plus_is_space (query strings and forms). False
// when an escape is malformed.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out);

// The value of `name` in an application/x-www-form-urlencoded string (a query or a form).
std::string FormValue(std::string_view encoded, std::string_view name);

// The language of a page: "fr" or "en", from ?lang= first, then Accept-Language's most
// preferred of the two (English when neither is asked for).
std::string PageLanguage(const Request& request);

}  // namespace credd::http
