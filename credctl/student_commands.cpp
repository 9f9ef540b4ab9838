#include <nlohmann/json.hpp>

#include "common/exit_codes.h"
#include "credctl/commands.h"
#include "credctl/session.h"
#include "daemon/admin/admin_views.h"
#include "daemon/config/config.h"
#include "daemon/mail/mailer.h"
#include "daemon/store/database.h"
#include "daemon/store/invitation_store.h"
#include "daemon/store/migrations.h"
#include "daemon/store/student_store.h"
#include "records/validate.h"

namespace credd::ctl {

namespace {

void PrintStudent(const StudentRow& s, std::ostream& out) {
  out << s.institution_id << " " << s.student_id << ": " << s.given_names << " " << s.family_name
      << "\n";
  for (const StudentEmailRow& e : s.emails) {
    out << "  email " << e.address << " (" << e.kind << ", " << e.status
        << (e.primary ? ", primary" : "") << ")\n";
  }
  for (const StudentDocumentRow& d : s.documents) {
    out << "  document " << d.public_id << " " << d.kind << " '" << d.title << "' "
        << kDocumentStatuses.Name(d.status) << "\n";
  }
  for (const StudentInvitationRow& i : s.invitations) {
    out << "  invitation " << i.id << " " << i.kind << " " << kInvitationStates.Name(i.state)
        << " to " << i.to << "\n";
  }
}

}  // namespace

// Prints every matching student with their addresses, documents and invitations.
int StudentFindCommand(const GlobalOptions& global, const StudentOptions& options, Logger& log,
                       std::ostream& out, std::ostream& err) {
  auto c = OpenSession(global, log, err);
  if (!c) return Fail(c.error(), err);
  auto students = FindStudents(*c->conn, {options.student_id, options.email, options.institution});
  if (!students) return Fail(students.error(), err);
  if (students->empty()) {
    err << "credctl: no such student\n";
    return kExitNoInput;
  }
  if (global.json) {
    out << StudentsJson(*students).dump(2) << "\n";
  } else {
    for (const StudentRow& s : *students) PrintStudent(s, out);
  }
  return kExitOk;
}

// Adds an address to a student (or reactivates it), primary if asked.
int StudentAddEmailCommand(const GlobalOptions& global, const StudentOptions& options,
                           const std::string& actor, Logger& log, std::ostream& out,
                           std::ostream& err) {
  if (!IsValidEmail(options.email)) {
    err << "credctl: '" << options.email << "' is not a valid email address\n";
    return kExitDataError;
  }
  auto c = OpenSession(global, log, err);
  if (!c) return Fail(c.error(), err);
  const NewStudentEmail email{options.institution, options.student_id, options.email, options.kind,
                              options.primary};
  if (Status added = AddStudentEmail(*c->conn, email, actor); !added) {
    return Fail(added.error(), err);
  }
  out << options.email << " added to " << options.institution << "/" << options.student_id << " ("
      << options.kind << ")\n";
  return kExitOk;
}

// Queues a new invitation email for the student, with a new link.
int InviteResendCommand(const GlobalOptions& global, const StudentOptions& options,
                        const std::string& actor, Logger& log, std::ostream& out,
                        std::ostream& err) {
  auto c = OpenSession(global, log, err);
  if (!c) return Fail(c.error(), err);
  const InstitutionConfig* institution = c->config.FindInstitution(options.institution);
  if (institution == nullptr) {
    err << "credctl: unknown institution '" << options.institution << "'\n";
    return kExitUsage;
  }
  auto id =
      QueueResend(*c->conn, options.institution, options.student_id, options.kind == "personal",
                  mail::DomainOf(institution->invitations.from_address), actor);
  if (!id) return Fail(id.error(), err);
  out << "a new invitation for " << options.institution << "/" << options.student_id
      << " is queued (outbox " << *id << "); it carries a new link and voids the old one\n";
  return kExitOk;
}

}  // namespace credd::ctl
