// What the people's pages (students' and the staff desk's) share: cookies, forms, CSRF
// tokens, sessions and the page's language.
//
// Sessions live in PostgreSQL; the browser holds only a 256-bit token in a __Host- cookie
// (Secure, HttpOnly, SameSite=Lax, Path=/), the table its SHA-256. Every form carries a CSRF
// token: a signed-in visitor's is their session's; before sign-in it is the value of a
// separate __Host- form cookie, repeated in the form (a double submit: another site can
// neither read nor set a __Host- cookie). A POST whose token does not match gets 403.
// Thread contract: plain functions and values; WebDeps is shared by the handler threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "daemon/config/config.h"
#include "daemon/http/message.h"
#include "daemon/http/pages.h"
#include "daemon/store/states.h"
#include "daemon/store/store_pool.h"

namespace credd::http {

inline constexpr std::string_view kStudentCookie = "__Host-credd_session";
inline constexpr std::string_view kStaffCookie = "__Host-credd_desk";
inline constexpr std::string_view kFormCookie = "__Host-credd_form";

// A cookie's value from the request's Cookie headers; empty when absent.
std::string CookieValue(const Request& request, std::string_view name);
// A Set-Cookie value for a __Host- cookie (Path=/; Secure; HttpOnly; SameSite=Lax). A
// negative max_age makes a browser-session cookie; 0 deletes the cookie.
std::string HostCookie(std::string_view name, const std::string& value, int max_age_seconds);

// The fields of an application/x-www-form-urlencoded body.
class Form {
 public:
  explicit Form(const Request& request);
  // The first value of `name`, without surrounding blanks; empty when absent.
  std::string Get(std::string_view name) const;
  // Every value of `name` (checkboxes), in order.
  std::vector<std::string> All(std::string_view name) const;

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// 303 See Other to a path of ours.
Response Redirect(const std::string& location);

// Whether two secrets are equal, in time that depends only on their lengths.
bool SameSecret(std::string_view a, std::string_view b);

struct WebDeps {
  StorePool* pool = nullptr;
  const Pages* pages = nullptr;
  std::function<std::shared_ptr<const Config>()> config;
  Logger* log = nullptr;
  const Clock* clock = &SystemClock();
};

// Who is asking, as far as one request tells.
struct Visitor {
  int64_t account = 0;         // A signed-in student's account, or 0.
  int64_t staff = 0;           // A signed-in member of staff, or 0.
  std::string session_sha256;  // Of the session cookie's token, when signed in.
  std::string csrf;            // The token every form of the page carries.
  std::string form_token;      // The form cookie's (pages loaded before sign-in carry it).
  std::string lang;            // "en" or "fr".
  std::string locale_saved;    // The signed-in student's stored preference.
  std::vector<std::pair<std::string, std::string>> cookies;  // Set-Cookie values to send.
};

// The visitor behind the request: the session of `cookie` (kStudentCookie or kStaffCookie)
// when it is live (touching it), and the CSRF token of its forms (the session's, or the form
// cookie's, made when missing). kUnavailable when the database cannot be reached.
Result<Visitor> IdentifyVisitor(const WebDeps& deps, const Request& request,
                                std::string_view cookie);

// Whether a POST carries the visitor's CSRF token in its "csrf" field: their session's, or
// their form cookie's (a form loaded before signing in, in another tab).
bool CsrfOk(const Visitor& visitor, const Form& form);

// A signed-in session: a new token (a new id at every sign-in), its row, and the cookie.
// kUnavailable when the database cannot be reached.
struct SessionStart {
  int64_t account = 0;
  int64_t staff = 0;
  std::string via;  // password, sso, activation, reset.
};
Status BeginSession(const WebDeps& deps, Store& store, const Request& request,
                    std::string_view cookie, const SessionStart& start, Visitor& visitor);

// The page with the visitor's cookies, CSRF token, language and navigation.
Response RenderPage(const WebDeps& deps, const Request& request, const Visitor& visitor, int status,
                    const std::string& page, nlohmann::json values);

// The error pages, in the visitor's language.
Response NotFoundPage(const WebDeps& deps, const Request& request, const Visitor& visitor);
Response ForbiddenPage(const WebDeps& deps, const Request& request, const Visitor& visitor);
Response UnavailablePage(const WebDeps& deps, const Request& request, const Error& error);

// The institution's name in `lang` (the other language's, or its id, when missing).
std::string InstitutionName(const Config& config, const std::string& id, const std::string& lang);

// Words the pages show for stored states.
std::string DocumentStatusWord(DocumentStatus status, const std::string& lang);
// "2026-12-01T23:05:09Z" -> "2026-12-01 23:05 UTC".
std::string ShownTime(const std::string& iso);

}  // namespace credd::http
