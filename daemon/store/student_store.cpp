// Students and their addresses; see student_store.h.
#include "daemon/store/student_store.h"

#include "daemon/store/internal/audit.h"
#include "daemon/store/internal/pq.h"

namespace credd {
namespace {

constexpr const char* kStudentColumns =
    "s.id, s.institution_id, s.student_id, s.family_name, s.given_names, s.preferred_locale, "
    "coalesce(s.activated_at::text, '')";
constexpr const char* kByStudentId =
    " FROM students s WHERE s.student_id = $1 AND ($2 = '' OR s.institution_id = $2) "
    "ORDER BY s.id";
constexpr const char* kByEmail =
    " FROM students s WHERE EXISTS (SELECT 1 FROM student_emails e WHERE e.student = s.id "
    "AND lower(e.address) = lower($1)) AND ($2 = '' OR s.institution_id = $2) ORDER BY s.id";
constexpr const char* kEmails =
    "SELECT address, kind, is_primary, status FROM student_emails WHERE student = $1 ORDER BY id";
constexpr const char* kDocuments =
    "SELECT d.id, d.public_id::text, c.kind, c.title, d.status, d.sha256 "
    "FROM documents d JOIN credentials c ON c.id = d.credential "
    "WHERE c.student = $1 ORDER BY d.id";
constexpr const char* kInvitations =
    "SELECT i.id, i.kind, i.state, i.reminders_sent, coalesce(i.expires_at::text, ''), "
    "coalesce(i.last_error, ''), e.address, coalesce(o.last_attempt_at::text, ''), "
    "coalesce(o.last_reply, '') FROM invitations i "
    "JOIN student_emails e ON e.id = i.email LEFT JOIN LATERAL (SELECT last_attempt_at, "
    "last_reply FROM mail_outbox WHERE invitation = i.id ORDER BY id DESC LIMIT 1) o ON true "
    "WHERE i.student = $1 ORDER BY i.id";

constexpr const char* kFindStudent =
    "SELECT id FROM students WHERE institution_id = $1 AND student_id = $2";
constexpr const char* kClearPrimary =
    "UPDATE student_emails SET is_primary = false WHERE student = $1";
constexpr const char* kUpsertEmail =
    "INSERT INTO student_emails (student, kind, address, is_primary, added_by) VALUES ($1, $2, "
    "$3, $4 OR NOT EXISTS (SELECT 1 FROM student_emails WHERE student = $1 AND is_primary), "
    "'staff') ON CONFLICT (student, address) DO UPDATE SET kind = EXCLUDED.kind, "
    "status = 'active', confirmed_at = coalesce(student_emails.confirmed_at, now()), "
    "is_primary = EXCLUDED.is_primary OR student_emails.is_primary, updated_at = now()";

// Fills in a student's addresses, documents and invitations.
void ReadDetails(pqxx::transaction_base& txn, StudentRow& student) {
  for (const pqxx::row& e : txn.exec_params(kEmails, student.id)) {
    student.emails.push_back(
        {e[0].as<std::string>(), e[1].as<std::string>(), e[2].as<bool>(), e[3].as<std::string>()});
  }
  for (const pqxx::row& d : txn.exec_params(kDocuments, student.id)) {
    student.documents.push_back({d[0].as<int64_t>(), d[1].as<std::string>(), d[2].as<std::string>(),
                                 d[3].as<std::string>(), ParseStored(kDocumentStatuses, d[4]),
                                 d[5].as<std::string>()});
  }
  for (const pqxx::row& i : txn.exec_params(kInvitations, student.id)) {
    student.invitations.push_back(
        {i[0].as<int64_t>(), i[1].as<std::string>(), ParseStored(kInvitationStates, i[2]),
         i[3].as<int>(), i[4].as<std::string>(), i[5].as<std::string>(), i[6].as<std::string>(),
         i[7].as<std::string>(), i[8].as<std::string>()});
  }
}

}  // namespace

Result<std::vector<StudentRow>> FindStudents(Store& store, const StudentQuery& query) {
  try {
    pqxx::read_transaction txn(Pq(store));
    const bool by_email = !query.email.empty();
    const std::string sql =
        std::string("SELECT ") + kStudentColumns + (by_email ? kByEmail : kByStudentId);
    std::vector<StudentRow> students;
    for (const pqxx::row& s :
         txn.exec_params(sql, by_email ? query.email : query.student_id, query.institution_id)) {
      StudentRow student;
      student.id = s[0].as<int64_t>();
      student.institution_id = s[1].as<std::string>();
      student.student_id = s[2].as<std::string>();
      student.family_name = s[3].as<std::string>();
      student.given_names = s[4].as<std::string>();
      student.preferred_locale = s[5].as<std::string>();
      student.activated_at = s[6].as<std::string>();
      ReadDetails(txn, student);
      students.push_back(std::move(student));
    }
    return students;
  } catch (const std::exception& e) {
    return PqError("finding the student", e);
  }
}

Status AddStudentEmail(Store& store, const NewStudentEmail& email, const std::string& actor) {
  try {
    pqxx::work txn(Pq(store));
    pqxx::result student = txn.exec_params(kFindStudent, email.institution_id, email.student_id);
    if (student.empty()) {
      return MakeError(ErrorCode::kNoInput,
                       "no student " + email.student_id + " at " + email.institution_id);
    }
    const int64_t id = student[0][0].as<int64_t>();
    if (email.primary) txn.exec_params(kClearPrimary, id);
    txn.exec_params(kUpsertEmail, id, email.kind, email.address, email.primary);
    AppendAudit(txn, {actor,
                      email.institution_id,
                      "student.email_added",
                      "student:" + email.student_id,
                      {{"address", email.address}, {"kind", email.kind}}});
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("adding the address", e);
  }
}

Status CloseStudentEmail(Store& store, const std::string& institution_id,
                         const std::string& student_id, const std::string& address,
                         const std::string& actor) {
  try {
    pqxx::work txn(Pq(store));
    pqxx::result closed = txn.exec_params(
        "UPDATE student_emails e SET status = 'closed', is_primary = false, updated_at = now() "
        "FROM students s WHERE s.id = e.student AND s.institution_id = $1 AND s.student_id = $2 "
        "AND lower(e.address) = lower($3) RETURNING e.student, "
        "(SELECT p.is_primary FROM student_emails p WHERE p.id = e.id)",
        institution_id, student_id, address);
    if (closed.empty()) {
      return MakeError(ErrorCode::kNoInput, "no address " + address + " for student " + student_id +
                                                " at " + institution_id);
    }
    // The old row's is_primary, read before the update, says whether the primary moves.
    if (closed[0][1].as<bool>()) {
      txn.exec_params(
          "UPDATE student_emails SET is_primary = true, updated_at = now() WHERE id = "
          "(SELECT id FROM student_emails WHERE student = $1 AND status = 'active' "
          "AND confirmed_at IS NOT NULL ORDER BY (kind = 'personal') DESC, id LIMIT 1)",
          closed[0][0].as<int64_t>());
    }
    AppendAudit(txn, {actor,
                      institution_id,
                      "student.email_closed",
                      "student:" + student_id,
                      {{"address", address}}});
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("closing the address", e);
  }
}

}  // namespace credd
