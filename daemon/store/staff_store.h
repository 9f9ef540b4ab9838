// Registrar staff for the support desk: local accounts (a password kept here) or SSO (the
// trusted proxy's header names them), each with a role and the institutions they serve.
// `credctl staff add` makes them; the desk reads them at sign-in.
// Thread contract: functions use the caller's Store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/store/states.h"
#include "daemon/store/store.h"

namespace credd {

struct StaffRow {
  int64_t id = 0;
  std::string username;
  std::string display_name;
  StaffKind kind = StaffKind::kLocal;
  std::string password_hash;  // Local staff only.
  StaffRole role = StaffRole::kViewer;
  std::vector<std::string> institutions;
  int failed_logins = 0;
  bool disabled = false;
  std::string created_at;

  // Whether they serve this institution.
  bool Serves(const std::string& institution_id) const;
  // Whether their role includes `needed` (registrar > support > viewer).
  bool May(StaffRole needed) const { return static_cast<int>(role) >= static_cast<int>(needed); }
};

// Adds a member of staff, audited. kData when the username is taken.
Status AddStaff(Store& store, const StaffRow& staff, const std::string& actor);
// Disables (they can no longer sign in; their sessions end), audited. kNoInput when unknown.
Status DisableStaff(Store& store, const std::string& username, const std::string& now,
                    const std::string& actor);
Result<std::vector<StaffRow>> ListStaff(Store& store);
// By username (compared without case); nothing when unknown.
Result<std::optional<StaffRow>> FindStaff(Store& store, const std::string& username);
Result<std::optional<StaffRow>> FindStaffById(Store& store, int64_t id);

// Failed and good local sign-ins, as for students' accounts (account_store.h).
Result<int> RecordStaffFailedSignIn(Store& store, int64_t staff, const std::string& now,
                                    int window_seconds);
Status RecordStaffSignIn(Store& store, int64_t staff, const std::string& actor);

// An audit event for a read of a student's record by staff ("student.viewed").
Status AuditStaffRead(Store& store, const std::string& institution_id,
                      const std::string& student_id, const std::string& actor);

}  // namespace credd
