#include "daemon/http/web.h"

#include <openssl/crypto.h>

#include "common/sha256.h"
#include "common/time_format.h"
#include "daemon/mail/mailer.h"
#include "daemon/store/account_store.h"

namespace credd::http {
namespace {

const char* Pick(const std::string& lang, const char* en, const char* fr) {
  return lang == "fr" ? fr : en;
}

// The seconds a session may stay unused, and its whole life.
int IdleSeconds(const Config& config) { return config.accounts.session_idle_minutes * 60; }
int AbsoluteSeconds(const Config& config) { return config.accounts.session_absolute_hours * 3600; }

}  // namespace

std::string CookieValue(const Request& request, std::string_view name) {
  for (const auto& [header, value] : request.headers) {
    if (!EqualsIgnoringCase(header, "Cookie")) continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      const std::size_t semi = rest.find(';');
      std::string_view pair = TrimBlanks(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      const std::size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
        return std::string(pair.substr(eq + 1));
      }
    }
  }
  return "";
}

std::string HostCookie(std::string_view name, const std::string& value, int max_age_seconds) {
  std::string cookie = std::string(name) + "=" + value + "; Path=/; Secure; HttpOnly; SameSite=Lax";
  if (max_age_seconds >= 0) cookie += "; Max-Age=" + std::to_string(max_age_seconds);
  return cookie;
}

Form::Form(const Request& request) {
  std::string_view body = request.body;
  while (!body.empty()) {
    const std::size_t amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    std::string name, value;
    if (!PercentDecode(pair.substr(0, eq), true, &name)) continue;
    if (eq != std::string_view::npos && !PercentDecode(pair.substr(eq + 1), true, &value)) continue;
    fields_.emplace_back(std::move(name), std::move(value));
  }
}

std::string Form::Get(std::string_view name) const {
  for (const auto& [key, value] : fields_) {
    if (key == name) return std::string(TrimBlanks(value));
  }
  return "";
}

std::vector<std::string> Form::All(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [key, value] : fields_) {
    if (key == name) values.push_back(value);
  }
  return values;
}

Response Redirect(const std::string& location) {
  Response res = Response::Text(303, "see " + location + "\n");
  res.headers.emplace_back("Location", location);
  return res;
}

bool SameSecret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<Visitor> IdentifyVisitor(const WebDeps& deps, const Request& request,
                                std::string_view cookie) {
  Visitor visitor;
  const std::string token = CookieValue(request, cookie);
  if (!token.empty()) {
    auto store = deps.pool->Acquire();
    if (!store) return store.error();
    const auto config = deps.config();
    const std::string hash = Sha256Hex(token);
    auto session =
        TouchSession(**store, hash, Iso8601UtcMicros(deps.clock->Now()), IdleSeconds(*config));
    if (!session) return session.error();
    if (session->has_value()) {
      visitor.account = (*session)->account;
      visitor.staff = (*session)->staff;
      visitor.session_sha256 = hash;
      visitor.csrf = (*session)->csrf_token;
      visitor.locale_saved = (*session)->locale;
    } else {
      visitor.cookies.emplace_back("Set-Cookie", HostCookie(cookie, "", 0));  // Ended.
    }
  }
  visitor.form_token = CookieValue(request, kFormCookie);
  if (visitor.form_token.size() < 32) visitor.form_token.clear();
  if (visitor.csrf.empty()) {
    if (visitor.form_token.empty()) {
      visitor.form_token = mail::NewToken();
      visitor.cookies.emplace_back("Set-Cookie", HostCookie(kFormCookie, visitor.form_token, -1));
    }
    visitor.csrf = visitor.form_token;
  }
  // The language: asked for (the switch), then the student's own, then the browser's.
  const std::string asked = request.QueryParam("lang");
  if (asked == "en" || asked == "fr") {
    visitor.lang = asked;
  } else if (visitor.account != 0 && !visitor.locale_saved.empty()) {
    visitor.lang = visitor.locale_saved;
  } else {
    visitor.lang = PageLanguage(request);
  }
  return visitor;
}

bool CsrfOk(const Visitor& visitor, const Form& form) {
  const std::string sent = form.Get("csrf");
  const bool session = !visitor.csrf.empty() && SameSecret(sent, visitor.csrf);
  const bool form_cookie = !visitor.form_token.empty() && SameSecret(sent, visitor.form_token);
  return session || form_cookie;
}

Status BeginSession(const WebDeps& deps, Store& store, const Request& request,
                    std::string_view cookie, const SessionStart& start, Visitor& visitor) {
  const auto config = deps.config();
  const std::string now = Iso8601UtcMicros(deps.clock->Now());
  // A session that came with the request ends: sign-in always makes a new id.
  if (!visitor.session_sha256.empty()) {
    if (Status ended = EndSession(store, visitor.session_sha256, now); !ended) return ended;
  }
  const std::string token = mail::NewToken();
  const std::string csrf = mail::NewToken();
  if (token.empty() || csrf.empty()) {
    return MakeError(ErrorCode::kInternal, "the system's random source failed");
  }
  NewSession session;
  session.account = start.account;
  session.staff = start.staff;
  session.token_sha256 = Sha256Hex(token);
  session.csrf_token = csrf;
  session.client = request.client;
  session.via = kSessionVias.Parse(start.via).value_or(SessionVia::kPassword);
  session.absolute_seconds = AbsoluteSeconds(*config);
  if (Status started = StartSession(store, session, now); !started) return started;
  visitor.account = start.account;
  visitor.staff = start.staff;
  visitor.session_sha256 = session.token_sha256;
  visitor.csrf = csrf;
  visitor.cookies.emplace_back("Set-Cookie", HostCookie(cookie, token, AbsoluteSeconds(*config)));
  return Status::Ok();
}

Response RenderPage(const WebDeps& deps, const Request& request, const Visitor& visitor, int status,
                    const std::string& page, nlohmann::json values) {
  values["csrf"] = visitor.csrf;
  values["signed_in"] = visitor.account != 0;
  values["staff_signed_in"] = visitor.staff != 0;
  // The language switch keeps the page's own query (an activation token, say).
  std::string here = request.path;
  std::string query;
  for (std::string_view rest = request.query; !rest.empty();) {
    const std::size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty() || pair.starts_with("lang=")) continue;
    query += std::string(pair) + "&";
  }
  Response res =
      deps.pages->Render(status, page, visitor.lang, here + "?" + query, std::move(values));
  for (const auto& cookie : visitor.cookies) res.headers.push_back(cookie);
  return res;
}

Response NotFoundPage(const WebDeps& deps, const Request& request, const Visitor& visitor) {
  return RenderPage(deps, request, visitor, 404, "message",
                    {{"title", Pick(visitor.lang, "Not found", "Page introuvable")},
                     {"message", Pick(visitor.lang, "There is nothing at this address.",
                                      "Il n'y a rien à cette adresse.")}});
}

Response ForbiddenPage(const WebDeps& deps, const Request& request, const Visitor& visitor) {
  return RenderPage(
      deps, request, visitor, 403, "message",
      {{"title", Pick(visitor.lang, "This form has expired", "Ce formulaire a expiré")},
       {"message", Pick(visitor.lang,
                        "The form was sent without its security token, or from another site. "
                        "Go back, reload the page and try again.",
                        "Le formulaire a été envoyé sans son jeton de sécurité, ou depuis un "
                        "autre site. Revenez en arrière, rechargez la page et réessayez.")}});
}

Response UnavailablePage(const WebDeps& deps, const Request& request, const Error& error) {
  deps.log->Error("http.page_unavailable", {{"path", request.path}, {"error", error.ToString()}});
  Response res = Response::Text(503,
                                "The service is unavailable for a moment; try again shortly.\n"
                                "Le service est momentanément indisponible; réessayez bientôt.\n");
  res.headers.emplace_back("Retry-After", "5");
  return res;
}

std::string InstitutionName(const Config& config, const std::string& id, const std::string& lang) {
  const InstitutionConfig* institution = config.FindInstitution(id);
  if (institution == nullptr) return id;
  const std::string& local = lang == "fr" ? institution->name_fr : institution->name_en;
  const std::string& other = lang == "fr" ? institution->name_en : institution->name_fr;
  return !local.empty() ? local : !other.empty() ? other : id;
}

std::string DocumentStatusWord(DocumentStatus status, const std::string& lang) {
  switch (status) {
    case DocumentStatus::kActive:
      return Pick(lang, "valid and current", "valide et à jour");
    case DocumentStatus::kSuperseded:
      return Pick(lang, "replaced by a newer version", "remplacé par une version plus récente");
    case DocumentStatus::kRevoked:
      return Pick(lang, "revoked", "révoqué");
  }
  return "";
}

std::string ShownTime(const std::string& iso) {
  if (iso.size() < 16 || iso[10] != 'T') return iso;
  return iso.substr(0, 10) + " " + iso.substr(11, 5) + " UTC";
}

}  // namespace credd::http
