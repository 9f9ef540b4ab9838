#include <nlohmann/json.hpp>

#include "common/exit_codes.h"
#include "credctl/commands.h"
#include "credctl/session.h"
#include "daemon/config/config.h"
#include "daemon/mail/mailer.h"
#include "daemon/pipeline/validate.h"
#include "daemon/store/database.h"
#include "daemon/store/invitation_store.h"
#include "daemon/store/migrations.h"

namespace credd::ctl {

int StudentFindCommand(const GlobalOptions& global, const StudentOptions& options, Logger& log,
                       std::ostream& out, std::ostream& err) {
  auto c = OpenSession(global, log, err);
  if (!c) return Fail(c.error(), err);
  try {
    pqxx::read_transaction txn(*c->conn);
    pqxx::result students =
        options.email.empty()
            ? txn.exec_params(
                  "SELECT id, institution_id, student_id, family_name, given_names, "
                  "preferred_locale, coalesce(activated_at::text, '') FROM students "
                  "WHERE student_id = $1 AND ($2 = '' OR institution_id = $2) ORDER BY id",
                  options.student_id, options.institution)
            : txn.exec_params(
                  "SELECT DISTINCT s.id, s.institution_id, s.student_id, s.family_name, "
                  "s.given_names, s.preferred_locale, coalesce(s.activated_at::text, '') "
                  "FROM students s JOIN student_emails e ON e.student = s.id "
                  "WHERE lower(e.address) = lower($1) AND ($2 = '' OR s.institution_id = $2) "
                  "ORDER BY s.id",
                  options.email, options.institution);
    nlohmann::json list = nlohmann::json::array();
    for (const pqxx::row& s : students) {
      int64_t id = s[0].as<int64_t>();
      nlohmann::json student = {
          {"institution", s[1].as<std::string>()},      {"student_id", s[2].as<std::string>()},
          {"family_name", s[3].as<std::string>()},      {"given_names", s[4].as<std::string>()},
          {"preferred_locale", s[5].as<std::string>()}, {"activated_at", s[6].as<std::string>()},
          {"emails", nlohmann::json::array()},          {"documents", nlohmann::json::array()},
          {"invitations", nlohmann::json::array()}};
      for (const pqxx::row& e : txn.exec_params(
               "SELECT address, kind, is_primary, status FROM student_emails WHERE student = $1 "
               "ORDER BY id",
               id)) {
        student["emails"].push_back({{"address", e[0].as<std::string>()},
                                     {"kind", e[1].as<std::string>()},
                                     {"primary", e[2].as<bool>()},
                                     {"status", e[3].as<std::string>()}});
      }
      for (const pqxx::row& d :
           txn.exec_params("SELECT d.id, d.public_id::text, c.kind, c.title, d.status, d.sha256 "
                           "FROM documents d JOIN credentials c ON c.id = d.credential "
                           "WHERE c.student = $1 ORDER BY d.id",
                           id)) {
        student["documents"].push_back({{"id", d[0].as<int64_t>()},
                                        {"public_id", d[1].as<std::string>()},
                                        {"kind", d[2].as<std::string>()},
                                        {"title", d[3].as<std::string>()},
                                        {"status", d[4].as<std::string>()},
                                        {"sha256", d[5].as<std::string>()}});
      }
      for (const pqxx::row& i : txn.exec_params(
               "SELECT i.id, i.kind, i.state, i.reminders_sent, coalesce(i.expires_at::text, ''), "
               "coalesce(i.last_error, ''), e.address FROM invitations i "
               "JOIN student_emails e ON e.id = i.email WHERE i.student = $1 ORDER BY i.id",
               id)) {
        student["invitations"].push_back({{"id", i[0].as<int64_t>()},
                                          {"kind", i[1].as<std::string>()},
                                          {"state", i[2].as<std::string>()},
                                          {"reminders_sent", i[3].as<int>()},
                                          {"expires_at", i[4].as<std::string>()},
                                          {"last_error", i[5].as<std::string>()},
                                          {"to", i[6].as<std::string>()}});
      }
      list.push_back(std::move(student));
    }
    if (list.empty()) {
      err << "credctl: no such student\n";
      return kExitNoInput;
    }
    if (global.json) {
      out << (list.size() == 1 ? list[0] : nlohmann::json{{"students", list}}).dump(2) << "\n";
    } else {
      for (const auto& s : list) {
        out << s["institution"].get<std::string>() << " " << s["student_id"].get<std::string>()
            << ": " << s["given_names"].get<std::string>() << " "
            << s["family_name"].get<std::string>() << "\n";
        for (const auto& e : s["emails"]) {
          out << "  email " << e["address"].get<std::string>() << " ("
              << e["kind"].get<std::string>() << ", " << e["status"].get<std::string>()
              << (e["primary"].get<bool>() ? ", primary" : "") << ")\n";
        }
        for (const auto& d : s["documents"]) {
          out << "  document " << d["public_id"].get<std::string>() << " "
              << d["kind"].get<std::string>() << " '" << d["title"].get<std::string>() << "' "
              << d["status"].get<std::string>() << "\n";
        }
        for (const auto& i : s["invitations"]) {
          out << "  invitation " << i["id"].get<int64_t>() << " " << i["kind"].get<std::string>()
              << " " << i["state"].get<std::string>() << " to " << i["to"].get<std::string>()
              << "\n";
        }
      }
    }
    return kExitOk;
  } catch (const std::exception& e) {
    return Fail(PqError("finding the student", e), err);
  }
}

int StudentAddEmailCommand(const GlobalOptions& global, const StudentOptions& options,
                           const std::string& actor, Logger& log, std::ostream& out,
                           std::ostream& err) {
  if (!IsValidEmail(options.email)) {
    err << "credctl: '" << options.email << "' is not a valid email address\n";
    return kExitDataError;
  }
  auto c = OpenSession(global, log, err);
  if (!c) return Fail(c.error(), err);
  try {
    pqxx::work txn(*c->conn);
    pqxx::result student =
        txn.exec_params("SELECT id FROM students WHERE institution_id = $1 AND student_id = $2",
                        options.institution, options.student_id);
    if (student.empty()) {
      err << "credctl: no student " << options.student_id << " at " << options.institution << "\n";
      return kExitNoInput;
    }
    int64_t id = student[0][0].as<int64_t>();
    if (options.primary) {
      txn.exec_params("UPDATE student_emails SET is_primary = false WHERE student = $1", id);
    }
    txn.exec_params(
        "INSERT INTO student_emails (student, kind, address, is_primary) VALUES ($1, $2, $3, "
        "$4 OR NOT EXISTS (SELECT 1 FROM student_emails WHERE student = $1 AND is_primary)) "
        "ON CONFLICT (student, address) DO UPDATE SET kind = EXCLUDED.kind, status = 'active', "
        "is_primary = EXCLUDED.is_primary OR student_emails.is_primary, updated_at = now()",
        id, options.kind, options.email, options.primary);
    txn.exec_params(
        "INSERT INTO audit_events (actor, institution_id, event, subject, details) VALUES ($1, "
        "$2, 'student.email_added', 'student:' || $3, jsonb_build_object('address', $4::text, "
        "'kind', $5::text))",
        actor, options.institution, options.student_id, options.email, options.kind);
    txn.commit();
  } catch (const std::exception& e) {
    return Fail(PqError("adding the address", e), err);
  }
  out << options.email << " added to " << options.institution << "/" << options.student_id << " ("
      << options.kind << ")\n";
  return kExitOk;
}

int InviteResendCommand(const GlobalOptions& global, const StudentOptions& options, Logger& log,
                        std::ostream& out, std::ostream& err) {
  auto c = OpenSession(global, log, err);
  if (!c) return Fail(c.error(), err);
  const InstitutionConfig* institution = FindInstitution(c->config, options.institution);
  if (institution == nullptr) {
    err << "credctl: unknown institution '" << options.institution << "'\n";
    return kExitUsage;
  }
  auto id =
      QueueResend(*c->conn, options.institution, options.student_id, options.kind == "personal",
                  mail::DomainOf(institution->invitations.from_address));
  if (!id) return Fail(id.error(), err);
  out << "a new invitation for " << options.institution << "/" << options.student_id
      << " is queued (outbox " << *id << "); it carries a new link and voids the old one\n";
  return kExitOk;
}

}  // namespace credd::ctl
