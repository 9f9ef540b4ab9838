#include "daemon/http/message.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "common/hex.h"

namespace credd::http {
std::string_view TrimBlanks(std::string_view s) {
  const std::size_t first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Request::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoringCase(key, name)) return value;
  }
  return {};
}

std::string Request::QueryParam(std::string_view name) const { return FormValue(query, name); }

std::string Request::Param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

Response Response::Text(int status, std::string body) {
  return Response{status, "text/plain; charset=utf-8", std::move(body), {}};
}

Response Response::Json(int status, std::string body) {
  return Response{status, "application/json", std::move(body), {}};
}

Response Response::Html(int status, std::string body) {
  return Response{status, "text/html; charset=utf-8", std::move(body), {}};
}

bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int high = HexDigitValue(in[i + 1]);
      const int low = HexDigitValue(in[i + 2]);
      if (high < 0 || low < 0) return false;
      *out += static_cast<char>(high * 16 + low);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      *out += ' ';
    } else {
      *out += c;
    }
  }
  return true;
}

std::string FormValue(std::string_view encoded, std::string_view name) {
  while (!encoded.empty()) {
    const std::size_t amp = encoded.find('&');
    std::string_view pair = encoded.substr(0, amp);
    encoded = amp == std::string_view::npos ? std::string_view() : encoded.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    std::string key;
    if (!PercentDecode(pair.substr(0, eq), true, &key) || key != name) continue;
    std::string value;
    if (eq != std::string_view::npos && PercentDecode(pair.substr(eq + 1), true, &value)) {
      return value;
    }
    return {};
  }
  return {};
}

std::string PageLanguage(const Request& request) {
  const std::string asked = request.QueryParam("lang");
  if (asked == "fr" || asked == "en") return asked;
  // Accept-Language: "fr-CA,fr;q=0.9,en;q=0.8". The first of en/fr with the highest q wins.
  const std::string accept = request.Header("Accept-Language");
  std::string_view header = accept;
  std::string best = "en";
  double best_q = -1;
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    std::string_view item = TrimBlanks(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    double q = 1;
    if (const std::size_t semi = item.find(';'); semi != std::string_view::npos) {
      std::string_view params = TrimBlanks(item.substr(semi + 1));
      if (params.substr(0, 2) == "q=") q = std::atof(std::string(params.substr(2)).c_str());
      item = TrimBlanks(item.substr(0, semi));
    }
    std::string tag(item.substr(0, 2));
    std::transform(tag.begin(), tag.end(), tag.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if ((tag == "fr" || tag == "en") && (item.size() == 2 || item[2] == '-') && q > best_q) {
      best = tag;
      best_q = q;
    }
  }
  return best;
}

}  // namespace credd::http
