#include "daemon/http/student_routes.h"

#include <algorithm>
#include <chrono>

#include "common/sha256.h"
#include "common/time_format.h"
#include "daemon/mail/mailer.h"
#include "daemon/store/account_store.h"
#include "daemon/store/share_store.h"
#include "records/validate.h"

namespace credd::http {
namespace {

using nlohmann::json;

const char* Pick(const std::string& lang, const char* en, const char* fr) {
  return lang == "fr" ? fr : en;
}

// The words a history line shows for an audit event.
std::string HistoryWords(const HistoryEntry& entry, const std::string& lang) {
  const std::string& e = entry.event;
  const std::string& d = entry.detail;
  if (e == "document.issued") return Pick(lang, "Issued", "Délivré");
  if (e == "document.superseded")
    return Pick(lang, "Replaced by a newer version", "Remplacé par une version plus récente");
  if (e == "document.revoked") return std::string(Pick(lang, "Revoked: ", "Révoqué : ")) + d;
  if (e == "share.created") return std::string(Pick(lang, "Shared with ", "Partagé avec ")) + d;
  if (e == "share.opened")
    return Pick(lang, "Opened by the recipient", "Ouvert par le destinataire");
  if (e == "share.downloaded")
    return Pick(lang, "Downloaded by the recipient", "Téléchargé par le destinataire");
  if (e == "share.cancelled") return Pick(lang, "Share cancelled", "Partage annulé");
  if (e == "share.expiry_changed") {
    return std::string(Pick(lang, "Share now expires on ", "Le partage expire désormais le ")) +
           ShownTime(d);
  }
  return e;
}

json HistoryJson(const std::vector<HistoryEntry>& history, const std::string& lang) {
  json lines = json::array();
  for (const HistoryEntry& entry : history) {
    lines.push_back({{"at", ShownTime(entry.at)},
                     {"what", HistoryWords(entry, lang)},
                     {"event", entry.event},
                     {"share_id", entry.share_id}});
  }
  return lines;
}

std::string ShareStateWord(ShareState state, const std::string& lang) {
  switch (state) {
    case ShareState::kActive:
      return Pick(lang, "active", "actif");
    case ShareState::kExpired:
      return Pick(lang, "expired", "expiré");
    case ShareState::kCancelled:
      return Pick(lang, "cancelled", "annulé");
  }
  return "";
}

json InstitutionJson(const Config& config, const std::string& id, const std::string& lang) {
  const InstitutionConfig* institution = config.FindInstitution(id);
  // Absent, not empty, when not configured: an empty string still opens a mustache section.
  auto optional = [](const std::string& value) { return value.empty() ? json() : json(value); };
  return {{"id", id},
          {"name", InstitutionName(config, id, lang)},
          {"contact_email", optional(institution ? institution->contact_email : "")},
          {"contact_url", optional(institution ? institution->contact_url : "")}};
}

json DocumentJson(const AccountDocument& d, const Config& config, const std::string& lang) {
  return {{"id", d.public_id},
          {"title", d.title},
          {"kind_word", CredentialTypeWord(d.kind, lang)},
          {"status_word", DocumentStatusWord(d.status, lang)},
          {"current", d.status == DocumentStatus::kActive},
          {"revoked", d.status == DocumentStatus::kRevoked},
          {"superseded", d.status == DocumentStatus::kSuperseded},
          {"revoked_reason", d.revoked_reason},
          {"revoked_at", ShownTime(d.revoked_at)},
          {"superseded_by", d.superseded_by},
          {"issued_at", ShownTime(d.issued_at)},
          {"institution", InstitutionJson(config, d.institution_id, lang)}};
}

// A whole number from a form field within [low, high]; nullopt otherwise.
std::optional<int> Bounded(const std::string& text, int low, int high) {
  if (text.empty() || text.size() > 6 ||
      !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return std::nullopt;
  }
  const int value = std::stoi(text);
  if (value < low || value > high) return std::nullopt;
  return value;
}

// An address as typed: trimmed, one @, no blanks or controls, at most 254 bytes.
bool PlausibleAddress(const std::string& address) {
  const std::size_t at = address.find('@');
  return at > 0 && at != std::string::npos && at == address.rfind('@') && at + 1 < address.size() &&
         address.size() <= 254 && std::none_of(address.begin(), address.end(), [](unsigned char c) {
           return c <= ' ' || c == 0x7f || c == '<' || c == '>';
         });
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

struct Handlers {
  StudentRoutes deps;

  const WebDeps& web() const { return deps.web; }
  std::string Now() const { return Iso8601UtcMicros(web().clock->Now()); }
  std::string Later(std::chrono::seconds by) const {
    return Iso8601UtcMicros(web().clock->Now() + by);
  }
  std::string Actor(const Request& request) const { return "web:" + request.client; }
  std::string AccountActor(const Visitor& v, const Request& request) const {
    return "student:account-" + std::to_string(v.account) + "@" + request.client;
  }

  Response Page(const Request& request, const Visitor& v, int status, const std::string& page,
                json values) const {
    values["service"] = Pick(v.lang, "My official documents", "Mes documents officiels");
    return RenderPage(web(), request, v, status, page, std::move(values));
  }

  // Runs `body` for a visitor (any, or signed-in only), with the errors every page shares.
  template <typename Body>
  Response WithVisitor(const Request& request, bool signed_in, Body body) const {
    auto visitor = IdentifyVisitor(web(), request, kStudentCookie);
    if (!visitor) return UnavailablePage(web(), request, visitor.error());
    if (signed_in && visitor->account == 0) {
      Response res = Redirect("/signin");
      for (const auto& cookie : visitor->cookies) res.headers.push_back(cookie);
      return res;
    }
    // The switch on a signed-in page also keeps the choice for the emails to come.
    const std::string asked = request.QueryParam("lang");
    if (visitor->account != 0 && (asked == "en" || asked == "fr") &&
        asked != visitor->locale_saved) {
      if (auto store = web().pool->Acquire())
        (void)SetAccountLocale(**store, visitor->account, asked);
    }
    return body(*visitor);
  }

  // A POST's common checks: its CSRF token, and (for anonymous forms) the client's limit.
  std::optional<Response> Refuse(const Request& request, Visitor& v, const Form& form,
                                 bool limited) const {
    if (!CsrfOk(v, form)) return ForbiddenPage(web(), request, v);
    if (limited) {
      if (int wait = deps.per_client->Take(request.client); wait > 0) {
        Response res = Page(request, v, 429, "message",
                            {{"title", Pick(v.lang, "Too many attempts", "Trop de tentatives")},
                             {"message", Pick(v.lang, "Wait a minute, then try again.",
                                              "Attendez une minute, puis réessayez.")}});
        res.headers.emplace_back("Retry-After", std::to_string(wait));
        return res;
      }
    }
    return std::nullopt;
  }

  // ---- Activation ----

  json ActivateValues(const Visitor& v, const std::string& token) const {
    return {{"title", Pick(v.lang, "Activate your account", "Activer votre compte")},
            {"token", token},
            {"min_length", deps.passwords->min_length()}};
  }

  Response ActivateForm(const Request& request) const {
    return WithVisitor(request, false, [&](Visitor& v) {
      const std::string token = request.QueryParam("token");
      json values = ActivateValues(v, token);
      if (token.empty()) {
        values["code_form"] = true;
        return Page(request, v, 200, "activate", std::move(values));
      }
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      // Only looks: a mail scanner's GET leaves the link as usable as it was.
      auto target = FindActivation(**store, Sha256Hex(token), Now());
      if (!target) return UnavailablePage(web(), request, target.error());
      if (!target->has_value()) {
        values["unusable"] = true;
        values["code_form"] = true;
        values["token"] = "";
        return Page(request, v, 200, "activate", std::move(values));
      }
      const auto config = web().config();
      const InstitutionConfig* institution = config->FindInstitution((*target)->institution_id);
      values["valid"] = true;
      values["student_name"] = (*target)->student_name;
      values["institution_name"] = InstitutionName(*config, (*target)->institution_id, v.lang);
      values["brand"] = (*target)->institution_id;
      values["needs_password"] = institution == nullptr || institution->login_method != "sso";
      return Page(request, v, 200, "activate", std::move(values));
    });
  }

  Response ActivatePost(const Request& request) const {
    return WithVisitor(request, false, [&](Visitor& v) {
      const Form form(request);
      if (auto refused = Refuse(request, v, form, true)) return *refused;
      ActivationKey key;
      const std::string token = form.Get("token");
      if (!token.empty()) {
        key.token_sha256 = Sha256Hex(token);
      } else {
        key.address = form.Get("address");
        key.code = NormalizeAccessCode(form.Get("code"));
        if (deps.per_address->Peek(Lower(key.address)) > 0) key.address.clear();  // Paused.
      }
      const std::string password = form.Get("password");
      const std::string confirm = form.Get("password_confirm");
      const auto config = web().config();
      std::string problem;
      auto password_for = [&](const ActivationTarget& target) -> Result<std::string> {
        const InstitutionConfig* institution = config->FindInstitution(target.institution_id);
        if (institution != nullptr && institution->login_method == "sso") return std::string();
        problem =
            PasswordProblemFor(password, confirm, target.address, target.institution_id, v.lang);
        if (!problem.empty()) return MakeError(ErrorCode::kData, problem);
        return accounts::HashPassword(password);
      };
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      Result<std::optional<ActivationTarget>> target =
          key.address.empty() && key.token_sha256.empty()
              ? Result<std::optional<ActivationTarget>>(std::optional<ActivationTarget>())
              : Activate(**store, key, password_for, config->accounts.access_code_tries, Now(),
                         Actor(request));
      json values = ActivateValues(v, token);
      values["address"] = key.address;
      if (!target && !problem.empty()) {
        // The key works; the password does not: the same form again, nothing spent.
        values["problem"] = problem;
        values["valid"] = !token.empty();
        values["code_form"] = token.empty();
        values["needs_password"] = true;
        return Page(request, v, 400, "activate", std::move(values));
      }
      if (!target) return UnavailablePage(web(), request, target.error());
      if (!target->has_value()) {
        // Unknown, expired, used, replaced or a wrong code: one answer for all.
        if (token.empty()) (void)deps.per_address->Take(Lower(key.address));
        values["unusable"] = true;
        values["code_form"] = true;
        values["token"] = "";
        return Page(request, v, 400, "activate", std::move(values));
      }
      const ActivationTarget& t = **target;
      const InstitutionConfig* institution = config->FindInstitution(t.institution_id);
      if (institution != nullptr && institution->login_method == "sso") {
        return Redirect("/signin?activated=" + t.institution_id);
      }
      if (Status started = BeginSession(web(), **store, request, kStudentCookie,
                                        {t.account, 0, "activation"}, v);
          !started) {
        return UnavailablePage(web(), request, started.error());
      }
      Response res = Redirect("/documents?welcome=1");
      for (const auto& cookie : v.cookies) res.headers.push_back(cookie);
      return res;
    });
  }

  // Empty when the password may be used; otherwise what to tell the student.
  std::string PasswordProblemFor(const std::string& password, const std::string& confirm,
                                 const std::string& address, const std::string& institution_id,
                                 const std::string& lang) const {
    if (password != confirm) {
      return Pick(lang, "The two passwords are not the same.",
                  "Les deux mots de passe ne sont pas identiques.");
    }
    const std::string local = address.substr(0, address.find('@'));
    const accounts::PasswordProblem problem =
        deps.passwords->Check(password, {local, institution_id, "credd"});
    return accounts::PasswordProblemText(problem, lang);
  }

  // ---- Signing in ----

  json SignInValues(const Visitor& v, const Config& config) const {
    json sso = json::array();
    for (const InstitutionConfig& institution : config.institutions) {
      if (institution.login_method != "sso") continue;
      sso.push_back({{"id", institution.id},
                     {"name", InstitutionName(config, institution.id, v.lang)},
                     {"url", institution.sso_login_url.empty() ? "/signin/sso/" + institution.id
                                                               : institution.sso_login_url}});
    }
    return {{"title", Pick(v.lang, "Sign in", "Se connecter")},
            {"sso_institutions", sso},
            {"has_sso", !sso.empty()}};
  }

  Response SignInForm(const Request& request) const {
    return WithVisitor(request, false, [&](Visitor& v) {
      if (v.account != 0) return Redirect("/documents");
      const auto config = web().config();
      json values = SignInValues(v, *config);
      const std::string activated = request.QueryParam("activated");
      if (!activated.empty()) {
        values["notice"] = std::string(Pick(v.lang, "Your account is active. Sign in with ",
                                            "Votre compte est actif. Connectez-vous avec ")) +
                           InstitutionName(*config, activated, v.lang) + ".";
      } else if (request.QueryParam("signed_out") == "1") {
        values["notice"] = Pick(v.lang, "You are signed out.", "Vous êtes déconnecté.");
      } else if (request.QueryParam("reset") == "1") {
        values["notice"] = Pick(v.lang,
                                "Your password is changed and every other session has ended. "
                                "Sign in with the new password.",
                                "Votre mot de passe est changé et toutes les autres sessions "
                                "sont terminées. Connectez-vous avec le nouveau mot de passe.");
      }
      return Page(request, v, 200, "signin", std::move(values));
    });
  }

  Response SignInPost(const Request& request) const {
    return WithVisitor(request, false, [&](Visitor& v) {
      const Form form(request);
      if (auto refused = Refuse(request, v, form, true)) return *refused;
      const std::string address = form.Get("address");
      const std::string password = form.Get("password");
      const auto config = web().config();
      json values = SignInValues(v, *config);
      values["address"] = address;
      const std::string key = Lower(address);
      if (int wait = deps.per_address->Peek(key); wait > 0) {
        accounts::SpendVerifyTime(password);  // A paused address costs what any other does.
        values["problem"] = Pick(v.lang,
                                 "Too many attempts for this address. Wait a few minutes, or use "
                                 "\u201cCan't sign in?\u201d.",
                                 "Trop de tentatives pour cette adresse. Attendez quelques "
                                 "minutes, ou utilisez « Impossible de vous connecter? ».");
        Response res = Page(request, v, 429, "signin", std::move(values));
        res.headers.emplace_back("Retry-After", std::to_string(wait));
        return res;
      }
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      auto account = FindSignInAccount(**store, address);
      if (!account) return UnavailablePage(web(), request, account.error());
      bool good = false;
      if (account->has_value() && !(*account)->password_hash.empty()) {
        good = accounts::VerifyPassword(password, (*account)->password_hash);
      } else {
        accounts::SpendVerifyTime(password);  // Unknown addresses take as long.
      }
      if (!good) {
        (void)deps.per_address->Take(key);
        if (account->has_value()) {
          (void)RecordFailedSignIn(**store, (*account)->account, Now(),
                                   config->accounts.sign_in_window_minutes * 60);
        }
        values["problem"] = Pick(v.lang, "The address or the password is wrong.",
                                 "L'adresse ou le mot de passe est incorrect.");
        return Page(request, v, 401, "signin", std::move(values));
      }
      std::string rehash;
      if (accounts::NeedsRehash((*account)->password_hash)) {
        if (auto hash = accounts::HashPassword(password)) rehash = *hash;
      }
      (void)RecordSignIn(**store, (*account)->account, rehash, Actor(request));
      if (Status started = BeginSession(web(), **store, request, kStudentCookie,
                                        {(*account)->account, 0, "password"}, v);
          !started) {
        return UnavailablePage(web(), request, started.error());
      }
      Response res = Redirect("/documents");
      for (const auto& cookie : v.cookies) res.headers.push_back(cookie);
      return res;
    });
  }

  Response SsoSignInPage(const Request& request) const {
    return WithVisitor(request, false, [&](Visitor& v) {
      const auto config = web().config();
      const InstitutionConfig* institution = config->FindInstitution(request.Param("institution"));
      if (institution == nullptr || institution->login_method != "sso") {
        return NotFoundPage(web(), request, v);
      }
      // Believed only from the trusted proxy, which authenticated the visitor; from anyone
      // else the header is any client's word, and ignored.
      const std::string identity =
          request.via_trusted_proxy
              ? std::string(TrimBlanks(request.Header(institution->sso_header)))
              : std::string();
      std::optional<ActivationTarget> target;
      if (!identity.empty()) {
        auto store = web().pool->Acquire();
        if (!store) return UnavailablePage(web(), request, store.error());
        auto found = SsoSignIn(**store, institution->id, identity, Now(), "sso:" + identity);
        if (!found) return UnavailablePage(web(), request, found.error());
        target = *found;
        if (target) {
          if (Status started = BeginSession(web(), **store, request, kStudentCookie,
                                            {target->account, 0, "sso"}, v);
              !started) {
            return UnavailablePage(web(), request, started.error());
          }
          Response res = Redirect("/documents");
          for (const auto& cookie : v.cookies) res.headers.push_back(cookie);
          return res;
        }
      }
      json values = SignInValues(v, *config);
      values["problem"] = identity.empty()
                              ? Pick(v.lang,
                                     "Your institution's sign-on did not confirm who you are. Try "
                                     "again from the sign-in page.",
                                     "L'authentification de votre établissement n'a pas confirmé "
                                     "votre identité. Réessayez depuis la page de connexion.")
                              : Pick(v.lang,
                                     "No student record here has this institutional address. "
                                     "Contact your registrar.",
                                     "Aucun dossier étudiant ici n'a cette adresse "
                                     "institutionnelle. Communiquez avec votre registraire.");
      return Page(request, v, 401, "signin", std::move(values));
    });
  }

  Response SignOut(const Request& request) const {
    return WithVisitor(request, false, [&](Visitor& v) {
      const Form form(request);
      if (!CsrfOk(v, form)) return ForbiddenPage(web(), request, v);
      if (!v.session_sha256.empty()) {
        auto store = web().pool->Acquire();
        if (!store) return UnavailablePage(web(), request, store.error());
        (void)EndSession(**store, v.session_sha256, Now());
      }
      Response res = Redirect("/signin?signed_out=1");
      res.headers.emplace_back("Set-Cookie", HostCookie(kStudentCookie, "", 0));
      return res;
    });
  }

  // ---- "Can't sign in?" ----

  Response ResetForm(const Request& request) const {
    return WithVisitor(request, false, [&](Visitor& v) {
      return Page(request, v, 200, "reset",
                  {{"title", Pick(v.lang, "Can't sign in?", "Impossible de vous connecter?")}});
    });
  }

  Response ResetPost(const Request& request) const {
    return WithVisitor(request, false, [&](Visitor& v) {
      const Form form(request);
      if (auto refused = Refuse(request, v, form, true)) return *refused;
      const std::string address = form.Get("address");
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      const auto config = web().config();
      if (PlausibleAddress(address)) {
        auto account = FindSignInAccount(**store, address);
        if (!account) return UnavailablePage(web(), request, account.error());
        if (account->has_value()) {
          if (Status sent = SendReset(**store, *config, **account); !sent) {
            web().log->Error("account.reset_failed", {{"error", sent.error().ToString()}});
          }
        }
      }
      // The same answer whether or not the address is known.
      return Page(request, v, 200, "reset",
                  {{"title", Pick(v.lang, "Can't sign in?", "Impossible de vous connecter?")},
                   {"sent", true},
                   {"minutes", config->accounts.reset_minutes}});
    });
  }

  Status SendReset(Store& store, const Config& config, const SignInAccount& account) const {
    const std::string token = mail::NewToken();
    if (token.empty()) return MakeError(ErrorCode::kInternal, "the system's random source failed");
    const int minutes = config.accounts.reset_minutes;
    if (Status stored =
            CreateAccountToken(store, account.account, AccountTokenPurpose::kPasswordReset, 0,
                               Sha256Hex(token), Later(std::chrono::minutes(minutes)));
        !stored) {
      return stored;
    }
    return QueueAccountEmail(
        deps.mailer, store, config,
        {MailKind::kPasswordReset,
         account.institution_id,
         account.locale,
         account.student_name,
         account.primary_address,
         {{"student_name", account.student_name},
          {"reset_url", config.http.public_url + "/reset/password?token=" + token},
          {"expires_in_minutes", minutes}}});
  }

  Response NewPasswordForm(const Request& request) const {
    return WithVisitor(request, false, [&](Visitor& v) {
      const std::string token = request.QueryParam("token");
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      auto usable =
          AccountTokenUsable(**store, Sha256Hex(token), AccountTokenPurpose::kPasswordReset, Now());
      if (!usable) return UnavailablePage(web(), request, usable.error());
      return Page(
          request, v, 200, "reset_password",
          {{"title", Pick(v.lang, "Choose a new password", "Choisir un nouveau mot de passe")},
           {"token", *usable ? token : ""},
           {"valid", *usable},
           {"min_length", deps.passwords->min_length()}});
    });
  }

  Response NewPasswordPost(const Request& request) const {
    return WithVisitor(request, false, [&](Visitor& v) {
      const Form form(request);
      if (auto refused = Refuse(request, v, form, true)) return *refused;
      const std::string token = form.Get("token");
      json values = {
          {"title", Pick(v.lang, "Choose a new password", "Choisir un nouveau mot de passe")},
          {"token", token},
          {"valid", true},
          {"min_length", deps.passwords->min_length()}};
      const std::string problem =
          PasswordProblemFor(form.Get("password"), form.Get("password_confirm"), "", "", v.lang);
      if (!problem.empty()) {
        values["problem"] = problem;
        return Page(request, v, 400, "reset_password", std::move(values));
      }
      auto hash = accounts::HashPassword(form.Get("password"));
      if (!hash) return UnavailablePage(web(), request, hash.error());
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      auto used =
          UseAccountToken(**store, Sha256Hex(token), AccountTokenPurpose::kPasswordReset, Now());
      if (!used) return UnavailablePage(web(), request, used.error());
      if (!used->has_value()) {
        values["valid"] = false;
        values["token"] = "";
        return Page(request, v, 400, "reset_password", std::move(values));
      }
      // A reset ends every session, this browser's too.
      if (Status set = SetPassword(**store, (*used)->account, *hash, Now(), Actor(request)); !set) {
        return UnavailablePage(web(), request, set.error());
      }
      Response res = Redirect("/signin?reset=1");
      res.headers.emplace_back("Set-Cookie", HostCookie(kStudentCookie, "", 0));
      return res;
    });
  }

  // ---- Documents ----

  Response DocumentsPage(const Request& request) const {
    return WithVisitor(request, true, [&](Visitor& v) {
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      auto documents = AccountDocuments(**store, v.account);
      if (!documents) return UnavailablePage(web(), request, documents.error());
      const auto config = web().config();
      json groups = json::array();
      for (const AccountDocument& d : *documents) {
        if (groups.empty() || groups.back()["institution"]["id"] != d.institution_id) {
          groups.push_back({{"institution", InstitutionJson(*config, d.institution_id, v.lang)},
                            {"documents", json::array()}});
        }
        groups.back()["documents"].push_back(DocumentJson(d, *config, v.lang));
      }
      return Page(request, v, 200, "documents",
                  {{"title", Pick(v.lang, "My documents", "Mes documents")},
                   {"groups", groups},
                   {"none", groups.empty()},
                   {"welcome", request.QueryParam("welcome") == "1"}});
    });
  }

  Response DocumentPage(const Request& request) const {
    return WithVisitor(request, true, [&](Visitor& v) {
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      auto document = AccountDocumentById(**store, v.account, request.Param("id"));
      if (!document) return UnavailablePage(web(), request, document.error());
      if (!document->has_value()) return NotFoundPage(web(), request, v);
      auto history = DocumentHistory(**store, (*document)->id);
      if (!history) return UnavailablePage(web(), request, history.error());
      const auto config = web().config();
      return Page(request, v, 200, "document",
                  {{"title", (*document)->title},
                   {"document", DocumentJson(**document, *config, v.lang)},
                   {"history", HistoryJson(*history, v.lang)},
                   {"brand", (*document)->institution_id}});
    });
  }

  Response DocumentPdf(const Request& request, bool download) const {
    return WithVisitor(request, true, [&](Visitor& v) {
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      auto pdf = AccountDocumentPdf(**store, v.account, request.Param("id"));
      if (!pdf) return UnavailablePage(web(), request, pdf.error());
      if (!pdf->has_value()) return NotFoundPage(web(), request, v);
      return PdfResponse(std::move(**pdf), request.Param("id"), download);
    });
  }

  static Response PdfResponse(std::string pdf, const std::string& id, bool download) {
    Response res{200, "application/pdf", std::move(pdf), {}};
    res.headers.emplace_back(
        "Content-Disposition",
        std::string(download ? "attachment" : "inline") + "; filename=\"" + id + ".pdf\"");
    return res;
  }

  // ---- Shares ----

  json SharesValues(const Visitor& v, Store& store, const Config& config,
                    std::vector<ShareRow>* shares_out) const {
    json values = {{"title", Pick(v.lang, "My shares", "Mes partages")},
                   {"default_days", config.accounts.share_default_days},
                   {"max_days", config.accounts.share_max_days}};
    auto documents = AccountDocuments(store, v.account);
    json choosable = json::array();
    if (documents) {
      for (const AccountDocument& d : *documents) {
        if (d.status == DocumentStatus::kActive)
          choosable.push_back(DocumentJson(d, config, v.lang));
      }
    }
    values["documents"] = choosable;
    values["can_share"] = !choosable.empty();
    auto shares = AccountShares(store, v.account, Now());
    json list = json::array();
    if (shares) {
      for (const ShareRow& s : *shares) {
        list.push_back({{"id", s.public_id},
                        {"recipient", s.recipient},
                        {"documents", s.documents.size()},
                        {"created_at", ShownTime(s.created_at)},
                        {"expires_at", ShownTime(s.expires_at)},
                        {"state_word", ShareStateWord(s.state, v.lang)},
                        {"active", s.state == ShareState::kActive},
                        {"opens", s.opens},
                        {"opened", s.opens > 0},
                        {"last_opened_at", ShownTime(s.last_opened_at)}});
      }
      if (shares_out) *shares_out = std::move(*shares);
    }
    values["shares"] = list;
    values["has_shares"] = !list.empty();
    return values;
  }

  Response SharesPage(const Request& request) const {
    return WithVisitor(request, true, [&](Visitor& v) {
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      return Page(request, v, 200, "shares", SharesValues(v, **store, *web().config(), nullptr));
    });
  }

  Response SharePost(const Request& request) const {
    return WithVisitor(request, true, [&](Visitor& v) {
      const Form form(request);
      if (auto refused = Refuse(request, v, form, false)) return *refused;
      const auto config = web().config();
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      NewShare share;
      share.account = v.account;
      share.document_ids = form.All("document");
      share.recipient = form.Get("recipient");
      share.note = form.Get("note");
      share.locale = form.Get("recipient_lang") == "fr" ? "fr" : "en";
      const std::optional<int> days = Bounded(form.Get("days"), 1, config->accounts.share_max_days);
      std::string problem;
      if (share.document_ids.empty()) {
        problem = Pick(v.lang, "Choose at least one document.", "Choisissez au moins un document.");
      } else if (!PlausibleAddress(share.recipient)) {
        problem = Pick(v.lang, "Enter the recipient's email address.",
                       "Entrez l'adresse courriel du destinataire.");
      } else if (!days) {
        problem = std::string(Pick(v.lang, "Choose an expiry of 1 to ",
                                   "Choisissez une expiration de 1 à ")) +
                  std::to_string(config->accounts.share_max_days) +
                  Pick(v.lang, " days.", " jours.");
      } else if (share.note.size() > 1000) {
        problem = Pick(v.lang, "Keep the note under 1,000 characters.",
                       "Gardez la note sous 1 000 caractères.");
      }
      if (!problem.empty()) {
        json values = SharesValues(v, **store, *config, nullptr);
        values["problem"] = problem;
        values["recipient"] = share.recipient;
        values["note"] = share.note;
        return Page(request, v, 400, "shares", std::move(values));
      }
      const std::string token = mail::NewToken();
      if (token.empty()) {
        return UnavailablePage(web(), request,
                               Error{ErrorCode::kInternal, "random source failed", ""});
      }
      share.token_sha256 = Sha256Hex(token);
      share.expires_at = Later(std::chrono::hours(24 * *days));
      auto created = CreateShare(**store, share, Now(), AccountActor(v, request));
      if (!created && created.error().code == ErrorCode::kNoInput)
        return NotFoundPage(web(), request, v);
      if (!created) return UnavailablePage(web(), request, created.error());
      json documents = json::array();
      for (const ShareDocument& d : created->documents) {
        documents.push_back({{"title", TitleOnOneLine(d.title)},
                             {"kind", CredentialTypeWord(d.kind, share.locale)}});
      }
      json values = {{"student_name", created->student_name},
                     {"documents", documents},
                     {"share_url", config->http.public_url + "/s/" + token},
                     {"expires_on", created->expires_at.substr(0, 10)},
                     {"verify_url", config->http.public_url + "/verify"}};
      if (!share.note.empty()) values["note"] = share.note;
      if (Status sent =
              QueueAccountEmail(deps.mailer, **store, *config,
                                {MailKind::kShare, created->documents.front().institution_id,
                                 share.locale, "", share.recipient, std::move(values)});
          !sent) {
        web().log->Error("share.mail_failed",
                         {{"share", created->public_id}, {"error", sent.error().ToString()}});
      }
      return Redirect("/shares/" + created->public_id + "?created=1");
    });
  }

  Response SharePage(const Request& request) const {
    return WithVisitor(request, true, [&](Visitor& v) {
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      auto share = AccountShare(**store, v.account, request.Param("id"), Now());
      if (!share) return UnavailablePage(web(), request, share.error());
      if (!share->has_value()) return NotFoundPage(web(), request, v);
      const ShareRow& s = **share;
      const auto config = web().config();
      json documents = json::array();
      for (const ShareDocument& d : s.documents) {
        documents.push_back({{"id", d.public_id},
                             {"title", d.title},
                             {"kind_word", CredentialTypeWord(d.kind, v.lang)},
                             {"status_word", DocumentStatusWord(d.status, v.lang)}});
      }
      return Page(request, v, 200, "share",
                  {{"title", Pick(v.lang, "Share", "Partage")},
                   {"created", request.QueryParam("created") == "1"},
                   {"share",
                    {{"id", s.public_id},
                     {"recipient", s.recipient},
                     {"note", s.note},
                     {"created_at", ShownTime(s.created_at)},
                     {"expires_at", ShownTime(s.expires_at)},
                     {"state_word", ShareStateWord(s.state, v.lang)},
                     {"active", s.state == ShareState::kActive},
                     {"opens", s.opens},
                     {"downloads", s.downloads},
                     {"documents", documents},
                     {"events", HistoryJson(s.events, v.lang)},
                     {"has_events", !s.events.empty()}}},
                   {"max_days", config->accounts.share_max_days}});
    });
  }

  Response ShareChange(const Request& request, bool cancel) const {
    return WithVisitor(request, true, [&](Visitor& v) {
      const Form form(request);
      if (auto refused = Refuse(request, v, form, false)) return *refused;
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      const std::string id = request.Param("id");
      Result<bool> changed = false;
      if (cancel) {
        changed = CancelShare(**store, v.account, id, Now(), AccountActor(v, request));
      } else {
        const auto config = web().config();
        const std::optional<int> days =
            Bounded(form.Get("days"), 1, config->accounts.share_max_days);
        if (!days) return Redirect("/shares/" + id);
        changed = ChangeShareExpiry(**store, v.account, id, Later(std::chrono::hours(24 * *days)),
                                    Now(), AccountActor(v, request));
      }
      if (!changed) return UnavailablePage(web(), request, changed.error());
      if (!*changed) return NotFoundPage(web(), request, v);
      return Redirect("/shares/" + id);
    });
  }

  // ---- The recipient's page ----

  Response SharedPage(const Request& request) const {
    return WithVisitor(request, false, [&](Visitor& v) {
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      const std::string token = request.Param("token");
      auto share = OpenShare(**store, Sha256Hex(token), Now(), "recipient@" + request.client);
      if (!share) return UnavailablePage(web(), request, share.error());
      if (!share->has_value()) return NoIndex(NotFoundPage(web(), request, v));
      const ShareRow& s = **share;
      const auto config = web().config();
      json values = {{"title", Pick(v.lang, "Shared documents", "Documents partagés")},
                     {"student_name", s.student_name},
                     {"noindex", true}};
      if (s.state != ShareState::kActive) {
        values["gone"] = true;
        values["state_word"] = ShareStateWord(s.state, v.lang);
        return NoIndex(Page(request, v, 410, "shared", std::move(values)));
      }
      json documents = json::array();
      for (const ShareDocument& d : s.documents) {
        documents.push_back({{"id", d.public_id},
                             {"title", d.title},
                             {"kind_word", CredentialTypeWord(d.kind, v.lang)},
                             {"status_word", DocumentStatusWord(d.status, v.lang)},
                             {"current", d.status == DocumentStatus::kActive},
                             {"revoked", d.status == DocumentStatus::kRevoked},
                             {"revoked_reason", d.revoked_reason},
                             {"issued_at", ShownTime(d.issued_at)},
                             {"institution", InstitutionJson(*config, d.institution_id, v.lang)},
                             {"download_url", "/s/" + token + "/" + d.public_id}});
      }
      values["live"] = true;
      values["documents"] = documents;
      values["note"] = s.note;
      values["expires_at"] = ShownTime(s.expires_at);
      if (!s.documents.empty()) values["brand"] = s.documents.front().institution_id;
      return NoIndex(Page(request, v, 200, "shared", std::move(values)));
    });
  }

  Response SharedDownload(const Request& request) const {
    auto store = web().pool->Acquire();
    if (!store) return UnavailablePage(web(), request, store.error());
    auto pdf = ShareDownload(**store, Sha256Hex(request.Param("token")),
                             request.Param("document_id"), Now(), "recipient@" + request.client);
    if (!pdf) return UnavailablePage(web(), request, pdf.error());
    // A cancelled or expired share is gone; an unknown link or document is not found.
    if (!pdf->has_value())
      return NoIndex(
          Response::Text(410, "This link no longer works.\nCe lien ne fonctionne plus.\n"));
    return NoIndex(PdfResponse(std::move(**pdf), request.Param("document_id"), true));
  }

  static Response NoIndex(Response res) {
    res.headers.emplace_back("X-Robots-Tag", "noindex, nofollow");
    return res;
  }

  // ---- Profile ----

  Response ProfilePage(const Request& request) const {
    return WithVisitor(request, true,
                       [&](Visitor& v) { return Profile(request, v, 200, json::object()); });
  }

  Response Profile(const Request& request, const Visitor& v, int status, json extra) const {
    auto store = web().pool->Acquire();
    if (!store) return UnavailablePage(web(), request, store.error());
    auto profile = LoadProfile(**store, v.account);
    if (!profile) return UnavailablePage(web(), request, profile.error());
    const auto config = web().config();
    json students = json::array();
    for (const ProfileStudent& s : profile->students) {
      json emails = json::array();
      for (const ProfileEmail& e : s.emails) {
        const bool usable = e.status == EmailStatus::kActive && e.confirmed;
        emails.push_back({{"id", e.id},
                          {"address", e.address},
                          {"kind_word", e.kind == "institutional"
                                            ? Pick(v.lang, "institutional", "institutionnelle")
                                            : Pick(v.lang, "personal", "personnelle")},
                          {"primary", e.primary},
                          {"closed", e.status != EmailStatus::kActive},
                          {"pending", !e.confirmed},
                          {"can_be_primary", usable && !e.primary}});
      }
      students.push_back({{"id", s.id},
                          {"institution_name", InstitutionName(*config, s.institution_id, v.lang)},
                          {"student_id", s.student_id},
                          {"name", s.name},
                          {"emails", emails}});
    }
    json values = {{"title", Pick(v.lang, "My profile", "Mon profil")},
                   {"students", students},
                   {"several", students.size() > 1},
                   {"locale_fr", profile->locale == "fr"},
                   {"confirm_hours", config->accounts.confirm_hours}};
    if (extra.is_object()) values.update(extra);
    return Page(request, v, status, "profile", std::move(values));
  }

  Response AddEmailPost(const Request& request) const {
    return WithVisitor(request, true, [&](Visitor& v) {
      const Form form(request);
      if (auto refused = Refuse(request, v, form, false)) return *refused;
      const std::string address = form.Get("address");
      if (!PlausibleAddress(address)) {
        return Profile(
            request, v, 400,
            {{"problem", Pick(v.lang, "Enter an email address.", "Entrez une adresse courriel.")}});
      }
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      auto profile = LoadProfile(**store, v.account);
      if (!profile) return UnavailablePage(web(), request, profile.error());
      if (profile->students.empty()) return NotFoundPage(web(), request, v);
      int64_t student = profile->students.front().id;
      const std::string& asked = form.Get("student");
      for (const ProfileStudent& s : profile->students) {
        if (std::to_string(s.id) == asked) student = s.id;
      }
      auto email = AddPendingEmail(**store, v.account, student, address, AccountActor(v, request));
      if (!email && email.error().code == ErrorCode::kData) {
        return Profile(request, v, 400,
                       {{"problem", Pick(v.lang, "This address is already in your profile.",
                                         "Cette adresse est déjà dans votre profil.")}});
      }
      if (!email) return UnavailablePage(web(), request, email.error());
      const auto config = web().config();
      const std::string token = mail::NewToken();
      const ProfileStudent* owner = nullptr;
      for (const ProfileStudent& s : profile->students) {
        if (s.id == student) owner = &s;
      }
      if (!token.empty() && owner != nullptr &&
          CreateAccountToken(**store, v.account, AccountTokenPurpose::kEmailConfirm, *email,
                             Sha256Hex(token),
                             Later(std::chrono::hours(config->accounts.confirm_hours)))) {
        Status sent = QueueAccountEmail(
            deps.mailer, **store, *config,
            {MailKind::kEmailConfirm,
             owner->institution_id,
             v.lang,
             owner->name,
             address,
             {{"student_name", owner->name},
              {"address", address},
              {"confirm_url", config->http.public_url + "/profile/confirm?token=" + token},
              {"expires_in_hours", config->accounts.confirm_hours}}});
        if (!sent)
          web().log->Error("account.confirm_mail_failed", {{"error", sent.error().ToString()}});
      }
      return Profile(request, v, 200,
                     {{"notice", std::string(Pick(v.lang, "We sent a confirmation link to ",
                                                  "Nous avons envoyé un lien de confirmation à ")) +
                                     address + "."}});
    });
  }

  Response PrimaryPost(const Request& request) const {
    return WithVisitor(request, true, [&](Visitor& v) {
      const Form form(request);
      if (auto refused = Refuse(request, v, form, false)) return *refused;
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      const std::string email = form.Get("email");
      if (email.empty() || !std::all_of(email.begin(), email.end(), ::isdigit) ||
          email.size() > 18) {
        return NotFoundPage(web(), request, v);
      }
      Status set = SetPrimaryEmail(**store, v.account, std::stoll(email), AccountActor(v, request));
      if (!set && set.error().code == ErrorCode::kNoInput) return NotFoundPage(web(), request, v);
      if (!set) return UnavailablePage(web(), request, set.error());
      return Redirect("/profile");
    });
  }

  Response LanguagePost(const Request& request) const {
    return WithVisitor(request, true, [&](Visitor& v) {
      const Form form(request);
      if (auto refused = Refuse(request, v, form, false)) return *refused;
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      const std::string lang = form.Get("lang") == "fr" ? "fr" : "en";
      if (Status set = SetAccountLocale(**store, v.account, lang); !set) {
        return UnavailablePage(web(), request, set.error());
      }
      return Redirect("/profile?lang=" + lang);
    });
  }

  Response ConfirmForm(const Request& request) const {
    return WithVisitor(request, false, [&](Visitor& v) {
      const std::string token = request.QueryParam("token");
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      auto usable =
          AccountTokenUsable(**store, Sha256Hex(token), AccountTokenPurpose::kEmailConfirm, Now());
      if (!usable) return UnavailablePage(web(), request, usable.error());
      return Page(request, v, 200, "confirm_email",
                  {{"title", Pick(v.lang, "Confirm an address", "Confirmer une adresse")},
                   {"token", *usable ? token : ""},
                   {"valid", *usable}});
    });
  }

  Response ConfirmPost(const Request& request) const {
    return WithVisitor(request, false, [&](Visitor& v) {
      const Form form(request);
      if (auto refused = Refuse(request, v, form, true)) return *refused;
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      json values = {{"title", Pick(v.lang, "Confirm an address", "Confirmer une adresse")}};
      auto used = UseAccountToken(**store, Sha256Hex(form.Get("token")),
                                  AccountTokenPurpose::kEmailConfirm, Now());
      if (!used) return UnavailablePage(web(), request, used.error());
      if (!used->has_value()) {
        values["valid"] = false;
        return Page(request, v, 400, "confirm_email", std::move(values));
      }
      auto linked = ConfirmEmail(
          **store, (*used)->account, (*used)->email, Now(),
          "student:account-" + std::to_string((*used)->account) + "@" + request.client);
      if (!linked) return UnavailablePage(web(), request, linked.error());
      const auto config = web().config();
      json names = json::array();
      for (const std::string& id : *linked) names.push_back(InstitutionName(*config, id, v.lang));
      values["done"] = true;
      values["linked"] = names;
      values["has_linked"] = !names.empty();
      return Page(request, v, 200, "confirm_email", std::move(values));
    });
  }

  Response Home(const Request& request) const {
    return WithVisitor(request, false, [&](Visitor& v) {
      return Redirect(v.account != 0 ? "/documents" : "/signin");
    });
  }
};

}  // namespace

void AddStudentRoutes(Router& router, const StudentRoutes& routes) {
  auto h = std::make_shared<Handlers>(Handlers{routes});
  auto add = [&](const char* method, const char* pattern, auto member) {
    router.Add({method, pattern, [h, member](const Request& r) { return ((*h).*member)(r); }});
  };
  add("GET", "/", &Handlers::Home);
  add("GET", "/activate", &Handlers::ActivateForm);
  add("POST", "/activate", &Handlers::ActivatePost);
  add("GET", "/signin", &Handlers::SignInForm);
  add("POST", "/signin", &Handlers::SignInPost);
  add("GET", "/signin/sso/{institution}", &Handlers::SsoSignInPage);
  add("POST", "/signout", &Handlers::SignOut);
  add("GET", "/reset", &Handlers::ResetForm);
  add("POST", "/reset", &Handlers::ResetPost);
  add("GET", "/reset/password", &Handlers::NewPasswordForm);
  add("POST", "/reset/password", &Handlers::NewPasswordPost);
  add("GET", "/documents", &Handlers::DocumentsPage);
  add("GET", "/documents/{id}", &Handlers::DocumentPage);
  router.Add(
      {"GET", "/documents/{id}/pdf", [h](const Request& r) { return h->DocumentPdf(r, false); }});
  router.Add({"GET", "/documents/{id}/download",
              [h](const Request& r) { return h->DocumentPdf(r, true); }});
  add("GET", "/shares", &Handlers::SharesPage);
  add("POST", "/shares", &Handlers::SharePost);
  add("GET", "/shares/{id}", &Handlers::SharePage);
  router.Add(
      {"POST", "/shares/{id}/cancel", [h](const Request& r) { return h->ShareChange(r, true); }});
  router.Add(
      {"POST", "/shares/{id}/expiry", [h](const Request& r) { return h->ShareChange(r, false); }});
  add("GET", "/s/{token}", &Handlers::SharedPage);
  add("GET", "/s/{token}/{document_id}", &Handlers::SharedDownload);
  add("GET", "/profile", &Handlers::ProfilePage);
  add("POST", "/profile/emails", &Handlers::AddEmailPost);
  add("POST", "/profile/primary", &Handlers::PrimaryPost);
  add("POST", "/profile/language", &Handlers::LanguagePost);
  add("GET", "/profile/confirm", &Handlers::ConfirmForm);
  add("POST", "/profile/confirm", &Handlers::ConfirmPost);
}

}  // namespace credd::http
