// Student accounts; see account_store.h.
#include "daemon/store/account_store.h"

#include "common/sha256.h"
#include "daemon/store/internal/audit.h"
#include "daemon/store/internal/failed_sign_ins.h"
#include "daemon/store/internal/pq.h"

namespace credd {
namespace {

// The columns of an ActivationTarget, from invitations i, students s and student_emails e.
constexpr const char* kTargetColumns =
    "i.id, s.id, s.institution_id, s.student_id, "
    "btrim(s.given_names || ' ' || s.family_name), e.address, s.preferred_locale, "
    "coalesce(s.account, 0)";
constexpr const char* kTargetJoins =
    " FROM invitations i JOIN students s ON s.id = i.student "
    "JOIN student_emails e ON e.id = i.email ";
// A usable invitation: its email is going or went out, it is not finished, its token runs.
// 'pending' counts once the mailer has stored a token (just before handing the email to the
// relay, ahead of marking it sent): a student may click a delivered link before that mark.
constexpr const char* kUsable =
    " i.kind = 'invitation' AND i.state IN ('pending', 'sent', 'reminded') AND i.expires_at > "
    "$2::timestamptz ";

ActivationTarget ReadTarget(const pqxx::row& row) {
  return {row[0].as<int64_t>(),     row[1].as<int64_t>(),     row[2].as<std::string>(),
          row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<std::string>(),
          row[6].as<std::string>(), row[7].as<int64_t>()};
}

std::string StudentSubject(const ActivationTarget& t) { return "student:" + t.student_id; }

// The invitation the key opens, locked; for a code, a wrong guess is counted here.
std::optional<ActivationTarget> LockTarget(pqxx::work& txn, const ActivationKey& key,
                                           int max_code_tries, const std::string& now) {
  const std::string select = std::string("SELECT ") + kTargetColumns;
  if (!key.token_sha256.empty()) {
    pqxx::result rows =
        txn.exec_params(select + kTargetJoins + "WHERE i.token_sha256 = decode($1, 'hex') AND" +
                            kUsable + "FOR UPDATE OF i, s",
                        key.token_sha256, now);
    if (rows.empty()) return std::nullopt;
    return ReadTarget(rows[0]);
  }
  pqxx::result rows = txn.exec_params(
      select + ", encode(i.access_code_sha256, 'hex')" + kTargetJoins +
          "WHERE lower(e.address) = lower($1) AND i.access_code_sha256 IS NOT NULL AND "
          "i.access_code_tries < $3 AND" +
          kUsable + "ORDER BY i.id FOR UPDATE OF i, s",
      key.address, now, max_code_tries);
  for (const pqxx::row& row : rows) {
    ActivationTarget target = ReadTarget(row);
    if (AccessCodeHash(target.invitation, key.code) == row[8].as<std::string>()) return target;
  }
  // A wrong code: every live code of the address loses a try, and the last one voids it.
  txn.exec_params(
      "UPDATE invitations i SET access_code_tries = access_code_tries + 1, "
      "access_code_sha256 = CASE WHEN access_code_tries + 1 >= $2 THEN NULL "
      "ELSE access_code_sha256 END, updated_at = now() FROM student_emails e "
      "WHERE e.id = i.email AND lower(e.address) = lower($1) AND i.access_code_sha256 IS NOT NULL",
      key.address, max_code_tries);
  return std::nullopt;
}

// The student's account, made when it has none (with the password when given).
int64_t EnsureAccount(pqxx::work& txn, ActivationTarget& target, const std::string& password_hash,
                      const std::string& now) {
  if (target.account == 0) {
    target.account =
        txn.exec_params1(
               "INSERT INTO accounts (password_hash, password_changed_at, preferred_locale) "
               "VALUES (nullif($1, ''), CASE WHEN $1 <> '' THEN $2::timestamptz END, $3) "
               "RETURNING id",
               password_hash, now, target.locale)[0]
            .as<int64_t>();
  } else if (!password_hash.empty()) {
    // An account without a password (made by SSO, say) may take one; one that has a
    // password keeps it: only a reset changes it.
    txn.exec_params(
        "UPDATE accounts SET password_hash = $2, password_changed_at = $3::timestamptz, "
        "updated_at = now() WHERE id = $1 AND password_hash IS NULL",
        target.account, password_hash, now);
  }
  txn.exec_params(
      "UPDATE students SET account = $2, activated_at = coalesce(activated_at, $3::timestamptz), "
      "updated_at = now() WHERE id = $1",
      target.student, target.account, now);
  return target.account;
}

// Ends the student's open invitations: reminders stop, their tokens and codes are void, and
// one not sent yet never goes (an email in flight is recorded without reopening it).
void FinishInvitations(pqxx::work& txn, int64_t student) {
  txn.exec_params(
      "UPDATE invitations SET state = 'activated', token_sha256 = NULL, "
      "access_code_sha256 = NULL, next_reminder_at = NULL, updated_at = now() "
      "WHERE student = $1 AND kind = 'invitation' AND state IN ('pending', 'sent', 'reminded')",
      student);
}

SessionRow ReadSession(const pqxx::row& row) {
  return {row[0].as<int64_t>(), row[1].as<int64_t>(), row[2].as<std::string>(),
          row[3].as<std::string>()};
}

const char* PurposeName(AccountTokenPurpose purpose) {
  return purpose == AccountTokenPurpose::kPasswordReset ? "password_reset" : "email_confirm";
}

}  // namespace

std::string NormalizeAccessCode(const std::string& typed) {
  std::string code;
  for (char c : typed) {
    if (c == ' ' || c == '-' || c == '\t') continue;
    code += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return code;
}

std::string AccessCodeHash(int64_t invitation, const std::string& code) {
  return Sha256Hex("credd-access-code:" + std::to_string(invitation) + ":" + code);
}

Result<std::optional<ActivationTarget>> FindActivation(Store& store,
                                                       const std::string& token_sha256,
                                                       const std::string& now) {
  try {
    pqxx::read_transaction txn(Pq(store));
    pqxx::result rows =
        txn.exec_params(std::string("SELECT ") + kTargetColumns + kTargetJoins +
                            "WHERE i.token_sha256 = decode($1, 'hex') AND" + kUsable,
                        token_sha256, now);
    if (rows.empty()) return std::optional<ActivationTarget>();
    return std::optional<ActivationTarget>(ReadTarget(rows[0]));
  } catch (const std::exception& e) {
    return PqError("looking up an activation", e);
  }
}

Result<std::optional<ActivationTarget>> Activate(Store& store, const ActivationKey& key,
                                                 const PasswordFor& password_for,
                                                 int max_code_tries, const std::string& now,
                                                 const std::string& actor) {
  try {
    pqxx::work txn(Pq(store));
    std::optional<ActivationTarget> target = LockTarget(txn, key, max_code_tries, now);
    if (!target) {
      txn.commit();  // A wrong code's try counts.
      return target;
    }
    Result<std::string> password_hash = password_for(*target);
    if (!password_hash) return password_hash.error();  // Rolled back: nothing happened.
    const bool new_account = target->account == 0;
    EnsureAccount(txn, *target, *password_hash, now);
    FinishInvitations(txn, target->student);
    AppendAudit(txn, {actor,
                      target->institution_id,
                      "student.activated",
                      StudentSubject(*target),
                      {{"invitation", target->invitation},
                       {"account", target->account},
                       {"new_account", new_account},
                       {"by", key.token_sha256.empty() ? "access_code" : "link"}}});
    txn.commit();
    return target;
  } catch (const std::exception& e) {
    return PqError("activating an account", e);
  }
}

Result<std::optional<SignInAccount>> FindSignInAccount(Store& store, const std::string& address) {
  try {
    pqxx::read_transaction txn(Pq(store));
    pqxx::result rows = txn.exec_params(
        "SELECT a.id, coalesce(a.password_hash, ''), a.preferred_locale, a.failed_logins, "
        "coalesce(a.failed_since::text, ''), coalesce((SELECT p.address FROM student_emails p "
        "WHERE p.student = s.id AND p.is_primary AND p.status = 'active' "
        "AND p.confirmed_at IS NOT NULL), e.address), "
        "btrim(s.given_names || ' ' || s.family_name), s.institution_id "
        "FROM student_emails e JOIN students s ON s.id = e.student "
        "JOIN accounts a ON a.id = s.account "
        "WHERE lower(e.address) = lower($1) AND e.status = 'active' AND e.confirmed_at IS NOT NULL "
        "ORDER BY e.id LIMIT 1",
        address);
    if (rows.empty()) return std::optional<SignInAccount>();
    const pqxx::row& r = rows[0];
    return std::optional<SignInAccount>(
        SignInAccount{r[0].as<int64_t>(), r[1].as<std::string>(), r[2].as<std::string>(),
                      r[3].as<int>(), r[4].as<std::string>(), r[5].as<std::string>(),
                      r[6].as<std::string>(), r[7].as<std::string>()});
  } catch (const std::exception& e) {
    return PqError("looking up an account", e);
  }
}

Result<int> RecordFailedSignIn(Store& store, int64_t account, const std::string& now,
                               int window_seconds) {
  try {
    pqxx::work txn(Pq(store));
    const int failures = CountFailedSignIn(txn, "accounts", account, now, window_seconds);
    txn.commit();
    return failures;
  } catch (const std::exception& e) {
    return PqError("counting a failed sign-in", e);
  }
}

Status RecordSignIn(Store& store, int64_t account, const std::string& new_hash,
                    const std::string& actor) {
  try {
    pqxx::work txn(Pq(store));
    txn.exec_params(
        "UPDATE accounts SET failed_logins = 0, failed_since = NULL, "
        "password_hash = coalesce(nullif($2, ''), password_hash), updated_at = now() "
        "WHERE id = $1",
        account, new_hash);
    AppendAudit(txn, {actor, "", "account.signed_in", "account:" + std::to_string(account), {}});
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("recording a sign-in", e);
  }
}

Status SetPassword(Store& store, int64_t account, const std::string& password_hash,
                   const std::string& now, const std::string& actor) {
  try {
    pqxx::work txn(Pq(store));
    txn.exec_params(
        "UPDATE accounts SET password_hash = $2, password_changed_at = $3::timestamptz, "
        "failed_logins = 0, failed_since = NULL, updated_at = now() WHERE id = $1",
        account, password_hash, now);
    const int ended = txn.exec_params(
                             "UPDATE sessions SET ended_at = $2::timestamptz "
                             "WHERE account = $1 AND ended_at IS NULL",
                             account, now)
                          .affected_rows();
    AppendAudit(txn, {actor,
                      "",
                      "account.password_reset",
                      "account:" + std::to_string(account),
                      {{"sessions_ended", ended}}});
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("setting a password", e);
  }
}

Result<std::optional<ActivationTarget>> SsoSignIn(Store& store, const std::string& institution_id,
                                                  const std::string& identity,
                                                  const std::string& now,
                                                  const std::string& actor) {
  try {
    pqxx::work txn(Pq(store));
    pqxx::result rows = txn.exec_params(
        "SELECT 0::bigint, s.id, s.institution_id, s.student_id, "
        "btrim(s.given_names || ' ' || s.family_name), e.address, s.preferred_locale, "
        "coalesce(s.account, 0), s.activated_at IS NULL "
        "FROM student_emails e JOIN students s ON s.id = e.student "
        "WHERE s.institution_id = $1 AND e.kind = 'institutional' "
        "AND lower(e.address) = lower($2) ORDER BY s.id LIMIT 1 FOR UPDATE OF s",
        institution_id, identity);
    if (rows.empty()) return std::optional<ActivationTarget>();
    ActivationTarget target = ReadTarget(rows[0]);
    const bool first = rows[0][8].as<bool>() || target.account == 0;
    if (first) {
      EnsureAccount(txn, target, "", now);
      FinishInvitations(txn, target.student);
      AppendAudit(txn, {actor,
                        target.institution_id,
                        "student.activated",
                        StudentSubject(target),
                        {{"account", target.account}, {"by", "sso"}}});
    }
    txn.commit();
    return std::optional<ActivationTarget>(target);
  } catch (const std::exception& e) {
    return PqError("signing in by SSO", e);
  }
}

Status StartSession(Store& store, const NewSession& session, const std::string& now) {
  try {
    pqxx::work txn(Pq(store));
    txn.exec_params(
        "INSERT INTO sessions (token_sha256, account, staff, csrf_token, client, via, "
        "created_at, last_seen_at, expires_at) VALUES (decode($1, 'hex'), nullif($2, 0), "
        "nullif($3, 0), $4, $5, $6, $7::timestamptz, $7::timestamptz, "
        "$7::timestamptz + make_interval(secs => $8))",
        session.token_sha256, session.account, session.staff, session.csrf_token, session.client,
        std::string(kSessionVias.Name(session.via)), now, session.absolute_seconds);
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("starting a session", e);
  }
}

Result<std::optional<SessionRow>> TouchSession(Store& store, const std::string& token_sha256,
                                               const std::string& now, int idle_seconds) {
  try {
    pqxx::work txn(Pq(store));
    // Idle or past its end: ended here, so it can never come back.
    txn.exec_params(
        "UPDATE sessions SET ended_at = $2::timestamptz WHERE token_sha256 = decode($1, 'hex') "
        "AND ended_at IS NULL AND (expires_at <= $2::timestamptz OR "
        "last_seen_at < $2::timestamptz - make_interval(secs => $3))",
        token_sha256, now, idle_seconds);
    pqxx::result rows = txn.exec_params(
        "UPDATE sessions x SET last_seen_at = $2::timestamptz FROM sessions s "
        "LEFT JOIN accounts a ON a.id = s.account "
        "WHERE x.id = s.id AND s.token_sha256 = decode($1, 'hex') AND s.ended_at IS NULL "
        "RETURNING coalesce(s.account, 0), coalesce(s.staff, 0), s.csrf_token, "
        "coalesce(a.preferred_locale, 'en')",
        token_sha256, now);
    txn.commit();
    if (rows.empty()) return std::optional<SessionRow>();
    return std::optional<SessionRow>(ReadSession(rows[0]));
  } catch (const std::exception& e) {
    return PqError("reading a session", e);
  }
}

Status EndSession(Store& store, const std::string& token_sha256, const std::string& now) {
  try {
    pqxx::work txn(Pq(store));
    txn.exec_params(
        "UPDATE sessions SET ended_at = $2::timestamptz "
        "WHERE token_sha256 = decode($1, 'hex') AND ended_at IS NULL",
        token_sha256, now);
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("ending a session", e);
  }
}

Status CreateAccountToken(Store& store, int64_t account, AccountTokenPurpose purpose, int64_t email,
                          const std::string& token_sha256, const std::string& expires_at) {
  try {
    pqxx::work txn(Pq(store));
    // A newer token of the same purpose voids the older ones (a second "Can't sign in?").
    txn.exec_params(
        "UPDATE account_tokens SET used_at = now() WHERE account = $1 AND purpose = $2 "
        "AND used_at IS NULL AND ($2 = 'password_reset' OR email = $3)",
        account, PurposeName(purpose), email);
    txn.exec_params(
        "INSERT INTO account_tokens (token_sha256, account, purpose, email, expires_at) "
        "VALUES (decode($1, 'hex'), $2, $3, nullif($4, 0), $5::timestamptz)",
        token_sha256, account, PurposeName(purpose), email, expires_at);
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("storing a token", e);
  }
}

Result<bool> AccountTokenUsable(Store& store, const std::string& token_sha256,
                                AccountTokenPurpose purpose, const std::string& now) {
  try {
    pqxx::read_transaction txn(Pq(store));
    return !txn.exec_params(
                   "SELECT 1 FROM account_tokens WHERE token_sha256 = decode($1, 'hex') "
                   "AND purpose = $2 AND used_at IS NULL AND expires_at > $3::timestamptz",
                   token_sha256, PurposeName(purpose), now)
                .empty();
  } catch (const std::exception& e) {
    return PqError("looking up a token", e);
  }
}

Result<std::optional<UsedToken>> UseAccountToken(Store& store, const std::string& token_sha256,
                                                 AccountTokenPurpose purpose,
                                                 const std::string& now) {
  try {
    pqxx::work txn(Pq(store));
    pqxx::result rows = txn.exec_params(
        "UPDATE account_tokens SET used_at = $3::timestamptz WHERE token_sha256 = decode($1, "
        "'hex') "
        "AND purpose = $2 AND used_at IS NULL AND expires_at > $3::timestamptz "
        "RETURNING account, coalesce(email, 0)",
        token_sha256, PurposeName(purpose), now);
    txn.commit();
    if (rows.empty()) return std::optional<UsedToken>();
    return std::optional<UsedToken>(UsedToken{rows[0][0].as<int64_t>(), rows[0][1].as<int64_t>()});
  } catch (const std::exception& e) {
    return PqError("using a token", e);
  }
}

Result<AccountProfile> LoadProfile(Store& store, int64_t account) {
  try {
    pqxx::read_transaction txn(Pq(store));
    AccountProfile profile;
    profile.account = account;
    pqxx::result a =
        txn.exec_params("SELECT preferred_locale FROM accounts WHERE id = $1", account);
    if (a.empty()) return MakeError(ErrorCode::kNoInput, "no such account");
    profile.locale = a[0][0].as<std::string>();
    for (const pqxx::row& s : txn.exec_params(
             "SELECT id, institution_id, student_id, btrim(given_names || ' ' || family_name) "
             "FROM students WHERE account = $1 ORDER BY institution_id, id",
             account)) {
      ProfileStudent student{s[0].as<int64_t>(),
                             s[1].as<std::string>(),
                             s[2].as<std::string>(),
                             s[3].as<std::string>(),
                             {}};
      for (const pqxx::row& e : txn.exec_params(
               "SELECT id, address, kind, is_primary, status, confirmed_at IS NOT NULL, added_by "
               "FROM student_emails WHERE student = $1 ORDER BY id",
               student.id)) {
        student.emails.push_back(
            {e[0].as<int64_t>(), e[1].as<std::string>(), e[2].as<std::string>(), e[3].as<bool>(),
             ParseStored(kEmailStatuses, e[4]), e[5].as<bool>(), e[6].as<std::string>()});
      }
      profile.students.push_back(std::move(student));
    }
    return profile;
  } catch (const std::exception& e) {
    return PqError("reading a profile", e);
  }
}

Status SetAccountLocale(Store& store, int64_t account, const std::string& locale) {
  try {
    pqxx::work txn(Pq(store));
    txn.exec_params("UPDATE accounts SET preferred_locale = $2, updated_at = now() WHERE id = $1",
                    account, locale);
    txn.exec_params(
        "UPDATE students SET preferred_locale = $2, updated_at = now() "
        "WHERE account = $1",
        account, locale);
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("setting the language", e);
  }
}

Result<int64_t> AddPendingEmail(Store& store, int64_t account, int64_t student,
                                const std::string& address, const std::string& actor) {
  try {
    pqxx::work txn(Pq(store));
    pqxx::result own = txn.exec_params(
        "SELECT institution_id, student_id FROM students WHERE id = $1 AND account = $2", student,
        account);
    if (own.empty()) return MakeError(ErrorCode::kNoInput, "no such student in this account");
    pqxx::result row = txn.exec_params(
        "INSERT INTO student_emails (student, kind, address, confirmed_at, added_by) "
        "VALUES ($1, 'personal', $2, NULL, 'student') ON CONFLICT (student, address) "
        "DO UPDATE SET updated_at = now() WHERE student_emails.confirmed_at IS NULL "
        "RETURNING id",
        student, address);
    if (row.empty()) {
      return MakeError(ErrorCode::kData, "this address is already in the profile", address);
    }
    const int64_t id = row[0][0].as<int64_t>();
    AppendAudit(txn, {actor,
                      own[0][0].as<std::string>(),
                      "student.email_added",
                      "student:" + own[0][1].as<std::string>(),
                      {{"address", address}, {"kind", "personal"}, {"confirmed", false}}});
    txn.commit();
    return id;
  } catch (const std::exception& e) {
    return PqError("adding an address", e);
  }
}

Result<std::vector<std::string>> ConfirmEmail(Store& store, int64_t account, int64_t email,
                                              const std::string& now, const std::string& actor) {
  try {
    pqxx::work txn(Pq(store));
    pqxx::result row = txn.exec_params(
        "UPDATE student_emails e SET confirmed_at = $3::timestamptz, status = 'active', "
        "updated_at = now() FROM students s WHERE e.id = $2 AND s.id = e.student "
        "AND s.account = $1 RETURNING e.address, s.institution_id, s.student_id",
        account, email, now);
    if (row.empty()) return MakeError(ErrorCode::kNoInput, "no such address in this account");
    const std::string address = row[0][0].as<std::string>();
    AppendAudit(txn, {actor,
                      row[0][1].as<std::string>(),
                      "student.email_confirmed",
                      "student:" + row[0][2].as<std::string>(),
                      {{"address", address}}});
    // The same person at other institutions served here: their SIS address proves it.
    std::vector<std::string> linked;
    for (const pqxx::row& other : txn.exec_params(
             "UPDATE students s SET account = $1, activated_at = coalesce(activated_at, "
             "$3::timestamptz), updated_at = now() FROM student_emails e "
             "WHERE e.student = s.id AND lower(e.address) = lower($2) AND e.added_by = 'sis' "
             "AND s.account IS NULL RETURNING s.id, s.institution_id, s.student_id",
             account, address, now)) {
      linked.push_back(other[1].as<std::string>());
      FinishInvitations(txn, other[0].as<int64_t>());
      AppendAudit(txn, {actor,
                        other[1].as<std::string>(),
                        "student.linked",
                        "student:" + other[2].as<std::string>(),
                        {{"account", account}, {"address", address}}});
    }
    txn.commit();
    return linked;
  } catch (const std::exception& e) {
    return PqError("confirming an address", e);
  }
}

Status SetPrimaryEmail(Store& store, int64_t account, int64_t email, const std::string& actor) {
  try {
    pqxx::work txn(Pq(store));
    pqxx::result row = txn.exec_params(
        "SELECT e.student, e.address, s.institution_id, s.student_id FROM student_emails e "
        "JOIN students s ON s.id = e.student WHERE e.id = $2 AND s.account = $1 "
        "AND e.status = 'active' AND e.confirmed_at IS NOT NULL",
        account, email);
    if (row.empty()) return MakeError(ErrorCode::kNoInput, "no such usable address");
    txn.exec_params("UPDATE student_emails SET is_primary = false WHERE student = $1",
                    row[0][0].as<int64_t>());
    txn.exec_params("UPDATE student_emails SET is_primary = true, updated_at = now() WHERE id = $1",
                    email);
    AppendAudit(txn, {actor,
                      row[0][2].as<std::string>(),
                      "student.primary_email",
                      "student:" + row[0][3].as<std::string>(),
                      {{"address", row[0][1].as<std::string>()}}});
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("choosing the primary address", e);
  }
}

}  // namespace credd
