// Counting failed sign-ins in runs, for students' accounts and local staff alike: a failure
// starts a new run when the last run began more than `window_seconds` ago. Included only
// by daemon/store/'s own files.
#pragma once

#include <pqxx/pqxx>
#include <string>

namespace credd {

// `table` is "accounts" or "staff" (a constant of the caller's, never input). Returns the
// failures in the current run, this one included.
inline int CountFailedSignIn(pqxx::work& txn, const char* table, int64_t id, const std::string& now,
                             int window_seconds) {
  const std::string fresh =
      "failed_since IS NULL OR failed_since < $2::timestamptz - make_interval(secs => $3)";
  return txn
      .exec_params1("UPDATE " + std::string(table) + " SET failed_logins = CASE WHEN " + fresh +
                        " THEN 1 ELSE failed_logins + 1 END, failed_since = CASE WHEN " + fresh +
                        " THEN $2::timestamptz ELSE failed_since END, updated_at = now() "
                        "WHERE id = $1 RETURNING failed_logins",
                    id, now, window_seconds)[0]
      .as<int>();
}

}  // namespace credd
