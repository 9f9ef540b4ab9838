// Registrar staff; see staff_store.h.
#include "daemon/store/staff_store.h"

#include <algorithm>

#include "daemon/store/internal/audit.h"
#include "daemon/store/internal/failed_sign_ins.h"
#include "daemon/store/internal/pq.h"

namespace credd {
namespace {

constexpr const char* kColumns =
    "SELECT id, username, display_name, kind, coalesce(password_hash, ''), role, "
    "array_to_json(institutions)::text, failed_logins, disabled_at IS NOT NULL, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM staff ";

StaffRow ReadStaff(const pqxx::row& r) {
  StaffRow s;
  s.id = r[0].as<int64_t>();
  s.username = r[1].as<std::string>();
  s.display_name = r[2].as<std::string>();
  s.kind = ParseStored(kStaffKinds, r[3]);
  s.password_hash = r[4].as<std::string>();
  s.role = ParseStored(kStaffRoles, r[5]);
  s.institutions = nlohmann::json::parse(r[6].as<std::string>()).get<std::vector<std::string>>();
  s.failed_logins = r[7].as<int>();
  s.disabled = r[8].as<bool>();
  s.created_at = r[9].as<std::string>();
  return s;
}

Result<std::optional<StaffRow>> FindOne(Store& store, const std::string& where,
                                        const std::string& value) {
  try {
    pqxx::read_transaction txn(Pq(store));
    pqxx::result rows = txn.exec_params(kColumns + where, value);
    if (rows.empty()) return std::optional<StaffRow>();
    return std::optional<StaffRow>(ReadStaff(rows[0]));
  } catch (const std::exception& e) {
    return PqError("reading staff", e);
  }
}

}  // namespace

bool StaffRow::Serves(const std::string& institution_id) const {
  return std::find(institutions.begin(), institutions.end(), institution_id) != institutions.end();
}

Status AddStaff(Store& store, const StaffRow& staff, const std::string& actor) {
  try {
    pqxx::work txn(Pq(store));
    pqxx::result rows = txn.exec_params(
        "INSERT INTO staff (username, display_name, kind, password_hash, role, institutions) "
        "VALUES ($1, $2, $3, nullif($4, ''), $5, $6::text[]) "
        "ON CONFLICT DO NOTHING RETURNING id",
        staff.username, staff.display_name, std::string(kStaffKinds.Name(staff.kind)),
        staff.password_hash, std::string(kStaffRoles.Name(staff.role)),
        TextArray(staff.institutions));
    if (rows.empty()) return MakeError(ErrorCode::kData, "this username is taken", staff.username);
    for (const std::string& institution : staff.institutions) {
      AppendAudit(
          txn, {actor,
                institution,
                "staff.added",
                "staff:" + staff.username,
                {{"role", kStaffRoles.Name(staff.role)}, {"kind", kStaffKinds.Name(staff.kind)}}});
    }
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("adding staff", e);
  }
}

Status DisableStaff(Store& store, const std::string& username, const std::string& now,
                    const std::string& actor) {
  try {
    pqxx::work txn(Pq(store));
    pqxx::result rows = txn.exec_params(
        "UPDATE staff SET disabled_at = coalesce(disabled_at, $2::timestamptz), "
        "updated_at = now() WHERE lower(username) = lower($1) RETURNING id, "
        "array_to_json(institutions)::text",
        username, now);
    if (rows.empty()) return MakeError(ErrorCode::kNoInput, "no such member of staff", username);
    txn.exec_params(
        "UPDATE sessions SET ended_at = $2::timestamptz WHERE staff = $1 "
        "AND ended_at IS NULL",
        rows[0][0].as<int64_t>(), now);
    for (const std::string& institution :
         nlohmann::json::parse(rows[0][1].as<std::string>()).get<std::vector<std::string>>()) {
      AppendAudit(txn, {actor, institution, "staff.disabled", "staff:" + username, {}});
    }
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("disabling staff", e);
  }
}

Result<std::vector<StaffRow>> ListStaff(Store& store) {
  try {
    pqxx::read_transaction txn(Pq(store));
    std::vector<StaffRow> staff;
    for (const pqxx::row& r : txn.exec(std::string(kColumns) + "ORDER BY username")) {
      staff.push_back(ReadStaff(r));
    }
    return staff;
  } catch (const std::exception& e) {
    return PqError("listing staff", e);
  }
}

Result<std::optional<StaffRow>> FindStaff(Store& store, const std::string& username) {
  return FindOne(store, "WHERE lower(username) = lower($1)", username);
}

Result<std::optional<StaffRow>> FindStaffById(Store& store, int64_t id) {
  return FindOne(store, "WHERE id = $1::bigint", std::to_string(id));
}

Result<int> RecordStaffFailedSignIn(Store& store, int64_t staff, const std::string& now,
                                    int window_seconds) {
  try {
    pqxx::work txn(Pq(store));
    const int failures = CountFailedSignIn(txn, "staff", staff, now, window_seconds);
    txn.commit();
    return failures;
  } catch (const std::exception& e) {
    return PqError("counting a failed staff sign-in", e);
  }
}

Status RecordStaffSignIn(Store& store, int64_t staff, const std::string& actor) {
  try {
    pqxx::work txn(Pq(store));
    pqxx::result rows = txn.exec_params(
        "UPDATE staff SET failed_logins = 0, failed_since = NULL, updated_at = now() "
        "WHERE id = $1 RETURNING username, institutions[1]",
        staff);
    if (!rows.empty()) {
      AppendAudit(txn, {actor,
                        rows[0][1].as<std::string>(),
                        "staff.signed_in",
                        "staff:" + rows[0][0].as<std::string>(),
                        {}});
    }
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("recording a staff sign-in", e);
  }
}

Status AuditStaffRead(Store& store, const std::string& institution_id,
                      const std::string& student_id, const std::string& actor) {
  try {
    pqxx::work txn(Pq(store));
    AppendAudit(txn, {actor, institution_id, "student.viewed", "student:" + student_id, {}});
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("recording a read of a student's record", e);
  }
}

}  // namespace credd
