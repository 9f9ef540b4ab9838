// The SQL side of the mailer: turning due invitations and reminders into outbox rows,
// claiming outbox rows under rate limits with FOR UPDATE SKIP LOCKED and a lease, and
// recording outcomes, refusing a late completion whose lease another worker took over.
// Every function takes `now` so tests can pin the clock.
// Thread contract: functions use the caller's connection.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/store/states.h"
#include "daemon/store/store.h"

namespace credd {

struct RateWindow {
  int messages = 0;
  int seconds = 0;
};

// Queues first emails (for pending invitations whose documents are all issued) and due
// reminders, and expires invitations whose last token has expired. Returns rows queued.
Result<int> QueueDueMail(Store& store, const std::string& institution_id, const std::string& now,
                         const std::string& message_id_domain, int reminders_allowed);

// The local weekday (1 = Monday), time (HH:MM) and date (YYYY-MM-DD) of `now` in an IANA
// time zone, computed by PostgreSQL (C++20's time zone support is not in g++ 12).
struct LocalTime {
  int iso_weekday = 0;
  std::string hour_minute;
  std::string date;
};
Result<LocalTime> LocalTimeIn(Store& store, const std::string& now, const std::string& time_zone);

struct ClaimedMail {
  int64_t outbox_id = 0;
  int64_t invitation = 0;
  MailKind kind = MailKind::kInvitation;
  std::string message_id;
  std::string recipient;
  int64_t email = 0;
  std::string email_kind;  // institutional, personal.
  int attempts = 0;        // Including this one.
  int reminders_sent = 0;
  std::string student_id;
  std::string family_name;
  std::string given_names;
  std::string locale;
  int64_t student = 0;
  // Taken over from a worker whose lease ran out mid-send: that attempt may have been
  // delivered (RFC 5321 cannot tell), so this one is a possible duplicate.
  std::string taken_over_from;  // That worker's lease owner; empty for a fresh claim.
};

// Claims up to what every limit still allows (counting sent and in-flight messages in each
// window, for this institution and across all), holding advisory locks so concurrent
// daemons share one budget. Claimed rows are 'sending' with a lease until now + lease.
Result<std::vector<ClaimedMail>> ClaimMail(Store& store, const std::string& institution_id,
                                           const std::string& now, const std::string& owner,
                                           int lease_seconds,
                                           const std::vector<RateWindow>& institution_limits,
                                           const std::vector<RateWindow>& global_limits,
                                           int max_claim);

// Stores the hash of a new token (its access code's, and its expiry) on each claimed
// email's invitation, in
// one statement, only for the rows whose lease still runs at `now`. Returns the outbox ids
// whose tokens were stored: any other row's lease was lost, and it must not be sent.
struct TokenHash {
  int64_t outbox_id = 0;
  std::string sha256_hex;
  std::string access_code_sha256_hex;  // AccessCodeHash; empty: no access code.
};
Result<std::set<int64_t>> SetTokens(Store& store, const std::vector<TokenHash>& tokens,
                                    const std::string& owner, const std::string& now,
                                    const std::string& expires_at);

struct DocumentLine {
  std::string kind;
  std::string title;
  std::string public_id;
};
// The active documents of each student (by students.id), for their emails, in one query.
Result<std::map<int64_t, std::vector<DocumentLine>>> StudentDocuments(
    Store& store, const std::vector<int64_t>& students);

// Outcomes. Each returns false when the lease was lost (someone else owns the row now):
// the caller logs and drops the result.
Result<bool> MarkSent(Store& store, const ClaimedMail& mail, const std::string& owner,
                      const std::string& now, const std::string& reply,
                      const std::vector<int>& reminder_days);
Result<bool> MarkDeferred(Store& store, const ClaimedMail& mail, const std::string& owner,
                          const std::string& now, int delay_seconds, const std::string& reply);
// A permanent failure. When the relay refused the recipient, the address is marked bounced
// and, for an institutional address with an active personal one, the email is queued again
// to the personal address (returned in *rerouted_to); without one the invitation is
// bounced. A refused sender or message leaves the address alone and records the reason on
// the invitation.
Result<bool> MarkFailed(Store& store, const ClaimedMail& mail, const std::string& owner,
                        const std::string& now, const std::string& reply, bool recipient_refused,
                        std::string* rerouted_to);

// Extends our leases on claimed rows to `until`, in one statement. Returns the ids renewed;
// any other row's lease was lost (another worker owns it, or it ran out at `now`): do not
// send it.
Result<std::set<int64_t>> RenewLeases(Store& store, const std::vector<int64_t>& outbox_ids,
                                      const std::string& owner, const std::string& now,
                                      const std::string& until);

// Gives back a claimed row that was not attempted (shutting down): queued or deferred again.
Status ReleaseClaim(Store& store, const ClaimedMail& mail, const std::string& owner);

// credctl invite resend: a new email for the student's latest invitation (to the personal
// address when to_personal), with a new token when sent. Returns the outbox row id.
// `actor` names who asked, for the audit event.
Result<int64_t> QueueResend(Store& store, const std::string& institution_id,
                            const std::string& student_id, bool to_personal,
                            const std::string& message_id_domain, const std::string& actor);

// What waits in the outbox, for the metrics: rows per waiting state (queued, sending,
// deferred; sent and failed rows are history, counted as they happen), and the age of the
// oldest email not yet sent (0 when none waits).
struct OutboxSummary {
  std::map<OutboxState, int64_t> waiting;
  double oldest_waiting_seconds = 0;
};
Result<OutboxSummary> SummariseOutbox(Store& store);

// Account mail: share, confirmation and reset emails, rendered whole when asked for and
// queued with their message. They go out at once (no sending window), under the global
// limits only, and their message (which holds a link's token) is wiped once it is sent or
// has failed for good.
struct AccountMail {
  int64_t outbox_id = 0;
  MailKind kind = MailKind::kShare;
  std::string institution_id;
  std::string recipient;
  std::string envelope_from;
  std::string message_id;
  std::string mime;  // The complete message.
  int attempts = 0;  // Including this one, once claimed.
};
Result<int64_t> QueueAccountMail(Store& store, const AccountMail& mail, const std::string& now);
// Claims what the global limits allow now, as ClaimMail does (same locks, same budget).
Result<std::vector<AccountMail>> ClaimAccountMail(Store& store, const std::string& now,
                                                  const std::string& owner, int lease_seconds,
                                                  const std::vector<RateWindow>& global_limits,
                                                  int max_claim);
// The outcome of one: sent or failed (the message is wiped), or deferred for
// `delay_seconds`. False when the lease was lost.
Result<bool> FinishAccountMail(Store& store, const AccountMail& mail, const std::string& owner,
                               const std::string& now, OutboxState outcome,
                               const std::string& reply, int delay_seconds);

}  // namespace credd
