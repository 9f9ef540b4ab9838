#include "daemon/http/desk_routes.h"

#include <algorithm>

#include "common/time_format.h"
#include "daemon/accounts/passwords.h"
#include "daemon/admin/admin_views.h"
#include "daemon/mail/mailer.h"
#include "daemon/store/account_store.h"
#include "daemon/store/batch_store.h"
#include "daemon/store/document_store.h"
#include "daemon/store/invitation_store.h"
#include "daemon/store/share_store.h"
#include "daemon/store/staff_store.h"
#include "daemon/store/student_store.h"

namespace credd::http {
namespace {

using nlohmann::json;

const char* Pick(const std::string& lang, const char* en, const char* fr) {
  return lang == "fr" ? fr : en;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string InvitationStateWord(InvitationState state, const std::string& lang) {
  switch (state) {
    case InvitationState::kPending:
      return Pick(lang, "waiting to be sent", "en attente d'envoi");
    case InvitationState::kSent:
      return Pick(lang, "sent", "envoyée");
    case InvitationState::kReminded:
      return Pick(lang, "reminded", "rappel envoyé");
    case InvitationState::kActivated:
      return Pick(lang, "activated", "activée");
    case InvitationState::kExpired:
      return Pick(lang, "expired", "expirée");
    case InvitationState::kBounced:
      return Pick(lang, "bounced", "rejetée (adresse invalide)");
    case InvitationState::kCancelled:
      return Pick(lang, "cancelled", "annulée");
  }
  return "";
}

// What a member of staff is, for one request.
struct Staff {
  Visitor visitor;
  StaffRow row;
  std::string Actor() const { return "staff:" + row.username; }
};

struct Handlers {
  DeskRoutes deps;

  const WebDeps& web() const { return deps.web; }
  std::string Now() const { return Iso8601UtcMicros(web().clock->Now()); }

  Response Page(const Request& request, const Visitor& v, int status, const std::string& page,
                json values) const {
    values["service"] = Pick(v.lang, "Registrar's desk", "Bureau du registraire");
    values["desk"] = true;
    return RenderPage(web(), request, v, status, page, std::move(values));
  }

  // Runs `body` for a signed-in member of staff whose role includes `needed`; sends anyone
  // else to the sign-in page (or 403 for a role too small).
  template <typename Body>
  Response AsStaff(const Request& request, StaffRole needed, Body body) const {
    auto visitor = IdentifyVisitor(web(), request, kStaffCookie);
    if (!visitor) return UnavailablePage(web(), request, visitor.error());
    if (visitor->staff == 0) return Redirect("/desk/signin");
    auto store = web().pool->Acquire();
    if (!store) return UnavailablePage(web(), request, store.error());
    auto row = FindStaffById(**store, visitor->staff);
    if (!row) return UnavailablePage(web(), request, row.error());
    if (!row->has_value() || (*row)->disabled) return Redirect("/desk/signin");
    Staff staff{std::move(*visitor), std::move(**row)};
    if (!staff.row.May(needed)) {
      return Page(request, staff.visitor, 403, "message",
                  {{"title", Pick(staff.visitor.lang, "Not allowed", "Non autorisé")},
                   {"message", Pick(staff.visitor.lang, "Your role does not allow this action.",
                                    "Votre rôle ne permet pas cette action.")}});
    }
    if (request.method == "POST") {
      const Form form(request);
      if (!CsrfOk(staff.visitor, form)) return ForbiddenPage(web(), request, staff.visitor);
      return body(staff, **store, form);
    }
    return body(staff, **store, Form(request));
  }

  // ---- Sign-in ----

  json SignInValues(const Visitor& v) const {
    const auto config = web().config();
    return {{"title", Pick(v.lang, "Staff sign-in", "Connexion du personnel")},
            {"sso", !config->staff.sso_header.empty()},
            {"sso_url",
             config->staff.sso_login_url.empty() ? "/desk/sso" : config->staff.sso_login_url}};
  }

  Response SignInForm(const Request& request) const {
    auto visitor = IdentifyVisitor(web(), request, kStaffCookie);
    if (!visitor) return UnavailablePage(web(), request, visitor.error());
    if (visitor->staff != 0) return Redirect("/desk");
    return Page(request, *visitor, 200, "desk_signin", SignInValues(*visitor));
  }

  Response SignInPost(const Request& request) const {
    auto visitor = IdentifyVisitor(web(), request, kStaffCookie);
    if (!visitor) return UnavailablePage(web(), request, visitor.error());
    Visitor& v = *visitor;
    const Form form(request);
    if (!CsrfOk(v, form)) return ForbiddenPage(web(), request, v);
    json values = SignInValues(v);
    const std::string username = form.Get("username");
    const std::string password = form.Get("password");
    values["username"] = username;
    if (deps.per_client->Take(request.client) > 0 || deps.per_address->Peek(Lower(username)) > 0) {
      accounts::SpendVerifyTime(password);
      values["problem"] = Pick(v.lang, "Too many attempts. Wait a few minutes.",
                               "Trop de tentatives. Attendez quelques minutes.");
      return Page(request, v, 429, "desk_signin", std::move(values));
    }
    auto store = web().pool->Acquire();
    if (!store) return UnavailablePage(web(), request, store.error());
    auto row = FindStaff(**store, username);
    if (!row) return UnavailablePage(web(), request, row.error());
    bool good = false;
    if (row->has_value() && (*row)->kind == StaffKind::kLocal && !(*row)->disabled) {
      good = accounts::VerifyPassword(password, (*row)->password_hash);
    } else {
      accounts::SpendVerifyTime(password);
    }
    if (!good) {
      (void)deps.per_address->Take(Lower(username));
      if (row->has_value()) {
        const auto config = web().config();
        (void)RecordStaffFailedSignIn(**store, (*row)->id, Now(),
                                      config->accounts.sign_in_window_minutes * 60);
      }
      values["problem"] = Pick(v.lang, "The username or the password is wrong.",
                               "Le nom d'utilisateur ou le mot de passe est incorrect.");
      return Page(request, v, 401, "desk_signin", std::move(values));
    }
    return Start(request, **store, v, **row, "password");
  }

  Response Start(const Request& request, Store& store, Visitor& v, const StaffRow& row,
                 const char* via) const {
    (void)RecordStaffSignIn(store, row.id, "staff:" + row.username + "@" + request.client);
    if (Status started = BeginSession(web(), store, request, kStaffCookie, {0, row.id, via}, v);
        !started) {
      return UnavailablePage(web(), request, started.error());
    }
    Response res = Redirect("/desk");
    for (const auto& cookie : v.cookies) res.headers.push_back(cookie);
    return res;
  }

  Response SsoSignIn(const Request& request) const {
    auto visitor = IdentifyVisitor(web(), request, kStaffCookie);
    if (!visitor) return UnavailablePage(web(), request, visitor.error());
    const auto config = web().config();
    // The header is believed only from a trusted proxy, which authenticated the visitor.
    const std::string identity =
        !config->staff.sso_header.empty() && request.via_trusted_proxy
            ? std::string(TrimBlanks(request.Header(config->staff.sso_header)))
            : std::string();
    if (!identity.empty()) {
      auto store = web().pool->Acquire();
      if (!store) return UnavailablePage(web(), request, store.error());
      auto row = FindStaff(**store, identity);
      if (!row) return UnavailablePage(web(), request, row.error());
      if (row->has_value() && (*row)->kind == StaffKind::kSso && !(*row)->disabled) {
        return Start(request, **store, *visitor, **row, "sso");
      }
    }
    json values = SignInValues(*visitor);
    values["problem"] =
        Pick(visitor->lang, "The sign-on did not name a member of staff known here.",
             "L'authentification n'a pas nommé un membre du personnel connu ici.");
    return Page(request, *visitor, 401, "desk_signin", std::move(values));
  }

  Response SignOut(const Request& request) const {
    auto visitor = IdentifyVisitor(web(), request, kStaffCookie);
    if (!visitor) return UnavailablePage(web(), request, visitor.error());
    if (!CsrfOk(*visitor, Form(request))) return ForbiddenPage(web(), request, *visitor);
    if (!visitor->session_sha256.empty()) {
      if (auto store = web().pool->Acquire())
        (void)EndSession(**store, visitor->session_sha256, Now());
    }
    Response res = Redirect("/desk/signin");
    res.headers.emplace_back("Set-Cookie", HostCookie(kStaffCookie, "", 0));
    return res;
  }

  // ---- Pages ----

  Response Home(const Request& request) const {
    return AsStaff(request, StaffRole::kViewer, [&](const Staff& s, Store& store, const Form&) {
      const auto config = web().config();
      json batches = json::array();
      for (const std::string& institution : s.row.institutions) {
        auto rows = ListBatches(store, institution, 25);
        if (!rows) return UnavailablePage(web(), request, rows.error());
        for (const BatchRow& b : *rows) {
          json line = BatchSummaryJson(b);
          line["institution_name"] = InstitutionName(*config, b.institution_id, s.visitor.lang);
          line["received_at"] = ShownTime(line.value("received_at", ""));
          batches.push_back(std::move(line));
        }
      }
      return Page(request, s.visitor, 200, "desk_home",
                  {{"title", Pick(s.visitor.lang, "Registrar's desk", "Bureau du registraire")},
                   {"staff_name", s.row.display_name.empty() ? s.row.username : s.row.display_name},
                   {"role", kStaffRoles.Name(s.row.role)},
                   {"batches", batches},
                   {"has_batches", !batches.empty()}});
    });
  }

  Response BatchPage(const Request& request) const {
    return AsStaff(request, StaffRole::kViewer, [&](const Staff& s, Store& store, const Form&) {
      const std::string id = request.Param("id");
      if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos) {
        return NotFoundPage(web(), request, s.visitor);
      }
      auto row = LoadBatch(store, std::stoll(id));
      if (!row || !s.row.Serves(row->institution_id))
        return NotFoundPage(web(), request, s.visitor);
      auto errors = LoadBatchErrors(store, row->id);
      if (!errors) return UnavailablePage(web(), request, errors.error());
      json report = BatchReportJson(*row, *errors);
      return Page(request, s.visitor, 200, "desk_batch",
                  {{"title", Pick(s.visitor.lang, "Batch ", "Lot ") + id},
                   {"batch", report},
                   {"report_json", report.dump(2)}});
    });
  }

  // The students the query finds among the staff's institutions.
  Result<std::vector<StudentRow>> Find(Store& store, const StaffRow& staff, const std::string& q,
                                       const std::string& only_institution) const {
    std::vector<StudentRow> found;
    for (const std::string& institution : staff.institutions) {
      if (!only_institution.empty() && institution != only_institution) continue;
      StudentQuery query;
      query.institution_id = institution;
      (q.find('@') != std::string::npos ? query.email : query.student_id) = q;
      auto rows = FindStudents(store, query);
      if (!rows) return rows.error();
      for (StudentRow& row : *rows) found.push_back(std::move(row));
    }
    return found;
  }

  Response Search(const Request& request) const {
    return AsStaff(request, StaffRole::kViewer, [&](const Staff& s, Store& store, const Form&) {
      const std::string q = std::string(TrimBlanks(request.QueryParam("q")));
      json values = {{"title", Pick(s.visitor.lang, "Find a student", "Trouver un étudiant")},
                     {"q", q}};
      if (q.empty()) return Page(request, s.visitor, 200, "desk_students", std::move(values));
      auto found = Find(store, s.row, q, "");
      if (!found) return UnavailablePage(web(), request, found.error());
      if (found->size() == 1) {
        return Redirect("/desk/students/" + found->front().institution_id + "/" +
                        found->front().student_id);
      }
      const auto config = web().config();
      json list = json::array();
      for (const StudentRow& row : *found) {
        list.push_back(
            {{"institution_id", row.institution_id},
             {"institution_name", InstitutionName(*config, row.institution_id, s.visitor.lang)},
             {"student_id", row.student_id},
             {"name", row.given_names + " " + row.family_name}});
      }
      values["students"] = list;
      values["none"] = list.empty();
      values["found"] = !list.empty();
      return Page(request, s.visitor, 200, "desk_students", std::move(values));
    });
  }

  Response StudentPage(const Request& request) const {
    return AsStaff(request, StaffRole::kViewer, [&](const Staff& s, Store& store, const Form&) {
      // After a document action (a redirect back here), what became of it.
      const std::string done = request.QueryParam("done");
      const std::string problem = request.QueryParam("problem");
      const std::string& lang = s.visitor.lang;
      json extra = json::object();
      if (done == "revoked")
        extra["notice"] = Pick(lang, "The document is revoked.", "Le document est révoqué.");
      if (done == "reissued")
        extra["notice"] =
            Pick(lang, "A new version is issued.", "Une nouvelle version est délivrée.");
      if (problem == "reason")
        extra["problem"] =
            Pick(lang, "Give the reason for the revocation.", "Donnez le motif de la révocation.");
      if (problem == "revoked")
        extra["problem"] =
            Pick(lang, "The document is already revoked.", "Le document est déjà révoqué.");
      if (problem == "reissue")
        extra["problem"] =
            Pick(lang, "The document could not be reissued; see the log.",
                 "Le document n'a pas pu être délivré de nouveau; voyez le journal.");
      return ShowStudent(request, s, store, 200, std::move(extra));
    });
  }

  Response ShowStudent(const Request& request, const Staff& s, Store& store, int status,
                       json extra) const {
    const std::string institution = request.Param("institution");
    const std::string student_id = request.Param("student_id");
    if (!s.row.Serves(institution)) return NotFoundPage(web(), request, s.visitor);
    StudentQuery query{student_id, "", institution};
    auto rows = FindStudents(store, query);
    if (!rows) return UnavailablePage(web(), request, rows.error());
    if (rows->empty()) return NotFoundPage(web(), request, s.visitor);
    const StudentRow& row = rows->front();
    // Every read of a student's record by staff is on the record.
    if (Status audited = AuditStaffRead(store, institution, student_id, s.Actor()); !audited) {
      return UnavailablePage(web(), request, audited.error());
    }
    const std::string& lang = s.visitor.lang;
    const auto config = web().config();
    json emails = json::array();
    bool has_personal = false;
    for (const StudentEmailRow& e : row.emails) {
      has_personal = has_personal || (e.kind == "personal" && e.status == "active");
      emails.push_back({{"address", e.address},
                        {"kind", e.kind},
                        {"primary", e.primary},
                        {"status", e.status},
                        {"active", e.status == "active"}});
    }
    json invitations = json::array();
    for (const StudentInvitationRow& i : row.invitations) {
      invitations.push_back({{"id", i.id},
                             {"kind", i.kind},
                             {"state_word", InvitationStateWord(i.state, lang)},
                             {"to", i.to},
                             {"reminders_sent", i.reminders_sent},
                             {"expires_at", ShownTime(i.expires_at)},
                             {"last_attempt_at", ShownTime(i.last_attempt_at)},
                             {"last_reply", i.last_reply},
                             {"last_error", i.last_error}});
    }
    json documents = json::array();
    for (const StudentDocumentRow& d : row.documents) {
      auto history = DocumentHistory(store, d.id);
      json lines = json::array();
      if (history) {
        for (const HistoryEntry& h : *history) {
          lines.push_back({{"at", ShownTime(h.at)},
                           {"event", h.event},
                           {"actor", h.actor},
                           {"detail", h.detail}});
        }
      }
      documents.push_back({{"id", d.public_id},
                           {"title", d.title},
                           {"kind", d.kind},
                           {"status_word", DocumentStatusWord(d.status, lang)},
                           {"revocable", d.status != DocumentStatus::kRevoked},
                           {"history", lines}});
    }
    json values = {{"title", row.given_names + " " + row.family_name},
                   {"student",
                    {{"institution_id", row.institution_id},
                     {"institution_name", InstitutionName(*config, row.institution_id, lang)},
                     {"student_id", row.student_id},
                     {"name", row.given_names + " " + row.family_name},
                     {"activated_at", ShownTime(row.activated_at)},
                     {"activated", !row.activated_at.empty()}}},
                   {"emails", emails},
                   {"invitations", invitations},
                   {"documents", documents},
                   {"has_personal", has_personal},
                   {"may_support", s.row.May(StaffRole::kSupport)},
                   {"may_registrar", s.row.May(StaffRole::kRegistrar)},
                   {"brand", row.institution_id}};
    if (extra.is_object()) values.update(extra);
    return Page(request, s.visitor, status, "desk_student", std::move(values));
  }

  Response StudentAction(const Request& request, StaffRole needed,
                         const std::function<Status(const Staff&, Store&, const Form&)>& act,
                         const char* done_en, const char* done_fr) const {
    return AsStaff(request, needed, [&](const Staff& s, Store& store, const Form& form) {
      if (!s.row.Serves(request.Param("institution")))
        return NotFoundPage(web(), request, s.visitor);
      Status done = act(s, store, form);
      if (!done && done.error().code == ErrorCode::kUnavailable) {
        return UnavailablePage(web(), request, done.error());
      }
      const std::string& lang = s.visitor.lang;
      return ShowStudent(request, s, store, done ? 200 : 400,
                         done ? json{{"notice", Pick(lang, done_en, done_fr)}}
                              : json{{"problem", done.error().message}});
    });
  }

  Response Resend(const Request& request) const {
    return StudentAction(
        request, StaffRole::kSupport,
        [&](const Staff& s, Store& store, const Form& form) -> Status {
          const auto config = web().config();
          const InstitutionConfig* institution =
              config->FindInstitution(request.Param("institution"));
          if (institution == nullptr) return MakeError(ErrorCode::kNoInput, "no such institution");
          auto id = QueueResend(store, institution->id, request.Param("student_id"),
                                form.Get("to") == "personal",
                                mail::DomainOf(institution->invitations.from_address), s.Actor());
          if (!id) return id.error();
          if (deps.wake_mail) deps.wake_mail();
          return Status::Ok();
        },
        "The invitation will be sent again.", "L'invitation sera envoyée de nouveau.");
  }

  Response AddEmail(const Request& request) const {
    return StudentAction(
        request, StaffRole::kSupport,
        [&](const Staff& s, Store& store, const Form& form) -> Status {
          const std::string address = form.Get("address");
          if (address.find('@') == std::string::npos || address.size() > 254) {
            return MakeError(ErrorCode::kData, "enter an email address");
          }
          NewStudentEmail email{request.Param("institution"), request.Param("student_id"), address,
                                form.Get("kind") == "institutional" ? "institutional" : "personal",
                                form.Get("primary") == "1"};
          return AddStudentEmail(store, email, s.Actor());
        },
        "The address is added.", "L'adresse est ajoutée.");
  }

  Response CloseEmail(const Request& request) const {
    return StudentAction(
        request, StaffRole::kSupport,
        [&](const Staff& s, Store& store, const Form& form) -> Status {
          return CloseStudentEmail(store, request.Param("institution"), request.Param("student_id"),
                                   form.Get("address"), s.Actor());
        },
        "The address is marked closed.", "L'adresse est marquée fermée.");
  }

  // The document, when it is one of the staff's institutions'.
  std::optional<DocumentRow> OwnDocument(const Staff& s, Store& store,
                                         const std::string& id) const {
    auto doc = FindDocument(store, id);
    if (!doc || !s.row.Serves(doc->institution_id)) return std::nullopt;
    return *doc;
  }

  Response DocumentAction(const Request& request, bool revoke) const {
    return AsStaff(
        request, StaffRole::kRegistrar, [&](const Staff& s, Store& store, const Form& form) {
          std::optional<DocumentRow> doc = OwnDocument(s, store, request.Param("id"));
          if (!doc) return NotFoundPage(web(), request, s.visitor);
          const std::string back = "/desk/students/" + doc->institution_id + "/" + doc->student_id;
          if (revoke) {
            const std::string reason = form.Get("reason");
            if (reason.empty()) return Redirect(back + "?problem=reason");
            if (Status revoked = RevokeDocument(store, doc->id, reason, s.Actor()); !revoked) {
              if (revoked.error().code == ErrorCode::kUnavailable) {
                return UnavailablePage(web(), request, revoked.error());
              }
              return Redirect(back + "?problem=revoked");
            }
          } else {
            auto issued = deps.reissue(store, std::to_string(doc->id), s.Actor());
            if (!issued) {
              web().log->Error("desk.reissue_failed", {{"document", doc->public_id},
                                                       {"error", issued.error().ToString()}});
              return Redirect(back + "?problem=reissue");
            }
          }
          return Redirect(back + "?done=" + (revoke ? "revoked" : "reissued"));
        });
  }
};

}  // namespace

void AddDeskRoutes(Router& router, const DeskRoutes& routes) {
  auto h = std::make_shared<Handlers>(Handlers{routes});
  auto add = [&](const char* method, const char* pattern, auto member) {
    router.Add({method, pattern, [h, member](const Request& r) { return ((*h).*member)(r); }});
  };
  add("GET", "/desk/signin", &Handlers::SignInForm);
  add("POST", "/desk/signin", &Handlers::SignInPost);
  add("GET", "/desk/sso", &Handlers::SsoSignIn);
  add("POST", "/desk/signout", &Handlers::SignOut);
  add("GET", "/desk", &Handlers::Home);
  add("GET", "/desk/batches/{id}", &Handlers::BatchPage);
  add("GET", "/desk/students", &Handlers::Search);
  add("GET", "/desk/students/{institution}/{student_id}", &Handlers::StudentPage);
  add("POST", "/desk/students/{institution}/{student_id}/resend", &Handlers::Resend);
  add("POST", "/desk/students/{institution}/{student_id}/emails", &Handlers::AddEmail);
  add("POST", "/desk/students/{institution}/{student_id}/emails/close", &Handlers::CloseEmail);
  router.Add({"POST", "/desk/documents/{id}/revoke",
              [h](const Request& r) { return h->DocumentAction(r, true); }});
  router.Add({"POST", "/desk/documents/{id}/reissue",
              [h](const Request& r) { return h->DocumentAction(r, false); }});
}

}  // namespace credd::http
