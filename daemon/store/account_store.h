// Student accounts: activation from an invitation (its link's token, or the access code
// typed with the address), signing in, sessions, single-use tokens for password resets and
// address confirmations, and the profile's addresses. Every change is audit-logged with
// the actor the caller names. Secrets arrive here already hashed: argon2id strings for
// passwords, the SHA-256 (hex) of 256-bit tokens, so nothing here can leak one.
// Every function takes `now` (ISO 8601 UTC) so tests can pin the clock.
// Thread contract: functions use the caller's Store.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/store/states.h"
#include "daemon/store/store.h"

namespace credd {

// The invitation an activation token or access code opened, and whom it is for.
struct ActivationTarget {
  int64_t invitation = 0;
  int64_t student = 0;  // students.id
  std::string institution_id;
  std::string student_id;
  std::string student_name;  // "Given Family".
  std::string address;       // The address the invitation went to.
  std::string locale;        // The student's preferred locale.
  int64_t account = 0;       // The account it is (now) linked to; 0 before activation.
};

// What opens an activation: the link's token, or the address with the access code.
struct ActivationKey {
  std::string token_sha256;  // Hex; when set, the rest is ignored.
  std::string address;
  std::string code;  // As typed, normalised by the caller (NormalizeAccessCode).
};

// An access code as the student types it, made comparable: letters upper-cased, spaces
// and dashes dropped.
std::string NormalizeAccessCode(const std::string& typed);

// The stored form of an invitation's access code (hex): salted with the invitation, so a
// code's hash says nothing about another invitation's. The mailer stores it; Activate
// compares it.
std::string AccessCodeHash(int64_t invitation, const std::string& code);

// The invitation a key opens, when it is still usable at `now`: sent or reminded, not
// expired, the key the newest (a newer email voids the older token and code). Changes
// nothing: this is the GET that mail scanners make too. An access code is not checked
// here (use Activate), so the page can be shown without spending a try.
Result<std::optional<ActivationTarget>> FindActivation(Store& store,
                                                       const std::string& token_sha256,
                                                       const std::string& now);

// Decides, once a key has opened its invitation, the password hash to set (empty: none, as
// for SSO). An error aborts the activation, leaving the key as usable as it was, and is
// what Activate returns.
using PasswordFor = std::function<Result<std::string>(const ActivationTarget&)>;

// Consumes the key: in one transaction the invitation is locked and checked again, the
// student linked to a new account (or the one it has) with the password when given, the
// student's activated_at set, the invitation activated (reminders stop) and its token and
// code cleared, and "student.activated" written. Nothing when the key is not usable. A
// wrong access code counts a try on every live code for that address; after `max_code_tries`
// the code is void.
Result<std::optional<ActivationTarget>> Activate(Store& store, const ActivationKey& key,
                                                 const PasswordFor& password_for,
                                                 int max_code_tries, const std::string& now,
                                                 const std::string& actor);

// The account that signs in with an address: a confirmed, active address of a student
// linked to an account (compared without case).
struct SignInAccount {
  int64_t account = 0;
  std::string password_hash;  // Empty when none is set (SSO-only).
  std::string locale;
  int failed_logins = 0;        // In the current run...
  std::string failed_since;     // ... which began then (empty when none).
  std::string primary_address;  // Of the student the address belongs to (active), else it.
  std::string student_name;
  std::string institution_id;
};
Result<std::optional<SignInAccount>> FindSignInAccount(Store& store, const std::string& address);

// A failed password for the account: counts it in a run that starts afresh after
// `window_seconds`. Returns the failures in the current run.
Result<int> RecordFailedSignIn(Store& store, int64_t account, const std::string& now,
                               int window_seconds);
// A good password: the run of failures ends; `new_hash` (when not empty) replaces the stored
// hash, for a rehash at stronger parameters.
Status RecordSignIn(Store& store, int64_t account, const std::string& new_hash,
                    const std::string& actor);

// Sets the password (a reset), ends every session of the account, and audits it.
Status SetPassword(Store& store, int64_t account, const std::string& password_hash,
                   const std::string& now, const std::string& actor);

// SSO: the student of `institution_id` whose institutional address is `identity` (compared
// without case) signs in. A student not yet activated is activated (the institution's
// sign-on proved who they are) with a new account. Nothing when no such student.
Result<std::optional<ActivationTarget>> SsoSignIn(Store& store, const std::string& institution_id,
                                                  const std::string& identity,
                                                  const std::string& now, const std::string& actor);

// Sessions: the cookie holds a token; the table its SHA-256.
struct NewSession {
  int64_t account = 0;  // Exactly one of account and staff.
  int64_t staff = 0;
  std::string token_sha256;
  std::string csrf_token;
  std::string client;
  SessionVia via = SessionVia::kPassword;
  int absolute_seconds = 0;  // The session ends this long after it starts, whatever happens.
};
Status StartSession(Store& store, const NewSession& session, const std::string& now);

struct SessionRow {
  int64_t account = 0;
  int64_t staff = 0;
  std::string csrf_token;
  std::string locale;  // The account's preference ("en" for staff).
};
// The live session of a token, its last use moved to `now`. A session idle for longer than
// `idle_seconds`, or past its absolute end, is ended and not returned.
Result<std::optional<SessionRow>> TouchSession(Store& store, const std::string& token_sha256,
                                               const std::string& now, int idle_seconds);
Status EndSession(Store& store, const std::string& token_sha256, const std::string& now);

// Single-use tokens mailed to the person.
enum class AccountTokenPurpose { kPasswordReset, kEmailConfirm };
Status CreateAccountToken(Store& store, int64_t account, AccountTokenPurpose purpose, int64_t email,
                          const std::string& token_sha256, const std::string& expires_at);
struct UsedToken {
  int64_t account = 0;
  int64_t email = 0;  // For a confirmation.
};
// Whether the token is unused and unexpired (the GET; changes nothing).
Result<bool> AccountTokenUsable(Store& store, const std::string& token_sha256,
                                AccountTokenPurpose purpose, const std::string& now);
// Uses it: nothing when it is unknown, used, expired or for another purpose.
Result<std::optional<UsedToken>> UseAccountToken(Store& store, const std::string& token_sha256,
                                                 AccountTokenPurpose purpose,
                                                 const std::string& now);

// The profile: the account's students (one per institution) and their addresses.
struct ProfileEmail {
  int64_t id = 0;
  std::string address;
  std::string kind;  // institutional, personal.
  bool primary = false;
  EmailStatus status = EmailStatus::kActive;
  bool confirmed = false;
  std::string added_by;  // sis, student, staff.
};
struct ProfileStudent {
  int64_t id = 0;
  std::string institution_id;
  std::string student_id;
  std::string name;
  std::vector<ProfileEmail> emails;
};
struct AccountProfile {
  int64_t account = 0;
  std::string locale;
  std::vector<ProfileStudent> students;
};
Result<AccountProfile> LoadProfile(Store& store, int64_t account);

Status SetAccountLocale(Store& store, int64_t account, const std::string& locale);

// An address the student adds to one of their students (personal, unconfirmed until its
// link is used). Returns the address row; kData when the address is already confirmed there.
Result<int64_t> AddPendingEmail(Store& store, int64_t account, int64_t student,
                                const std::string& address, const std::string& actor);

// The confirmation link was used: the address counts from now on, and every student of
// another institution whose SIS address it is, and who has no account yet, is linked to
// this account (so one profile shows all the person's documents). Returns the institutions
// linked.
Result<std::vector<std::string>> ConfirmEmail(Store& store, int64_t account, int64_t email,
                                              const std::string& now, const std::string& actor);

// Makes a confirmed, active address of the account's the primary of its student.
Status SetPrimaryEmail(Store& store, int64_t account, int64_t email, const std::string& actor);

}  // namespace credd
