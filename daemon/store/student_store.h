// Students and their email addresses, as staff look them up (credctl student find) and
// change them (credctl student add-email). Writes are audit-logged.
// Thread contract: functions use the caller's Store.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/store/states.h"
#include "daemon/store/store.h"

namespace credd {

struct StudentEmailRow {
  std::string address;
  std::string kind;  // institutional, personal.
  bool primary = false;
  std::string status;  // active, bounced, closed.
};

struct StudentDocumentRow {
  int64_t id = 0;
  std::string public_id;
  std::string kind;
  std::string title;
  DocumentStatus status = DocumentStatus::kActive;
  std::string sha256;
};

struct StudentInvitationRow {
  int64_t id = 0;
  std::string kind;
  InvitationState state = InvitationState::kPending;
  int reminders_sent = 0;
  std::string expires_at;  // Empty when no token was sent yet.
  std::string last_error;
  std::string to;               // The address it goes to.
  std::string last_attempt_at;  // Of its newest email; empty before the first attempt.
  std::string last_reply;       // The relay's words then (a bounce's reason).
};

struct StudentRow {
  int64_t id = 0;
  std::string institution_id;
  std::string student_id;
  std::string family_name;
  std::string given_names;
  std::string preferred_locale;
  std::string activated_at;  // Empty until the student activates.
  std::vector<StudentEmailRow> emails;
  std::vector<StudentDocumentRow> documents;
  std::vector<StudentInvitationRow> invitations;
};

// Who to look for: by student number, or (when email is set) by any of their addresses,
// compared without case. An empty institution_id searches every institution.
struct StudentQuery {
  std::string student_id;
  std::string email;
  std::string institution_id;
};

// Every matching student with their addresses, documents and invitations, in one snapshot.
Result<std::vector<StudentRow>> FindStudents(Store& store, const StudentQuery& query);

struct NewStudentEmail {
  std::string institution_id;
  std::string student_id;
  std::string address;
  std::string kind;      // institutional, personal.
  bool primary = false;  // Also the first address of a student with none primary.
};

// Adds the address (or reactivates it, if known), with an audit event. kNoInput when the
// institution has no such student.
Status AddStudentEmail(Store& store, const NewStudentEmail& email, const std::string& actor);

// Marks an address closed (the institution closed it): no more mail goes to it and it no
// longer signs in. When it was the primary, the student's first active, confirmed other
// address becomes the primary. Audited. kNoInput when the student has no such address.
Status CloseStudentEmail(Store& store, const std::string& institution_id,
                         const std::string& student_id, const std::string& address,
                         const std::string& actor);

}  // namespace credd
