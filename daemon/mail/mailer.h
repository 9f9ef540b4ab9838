// The mail scheduler: each round, per institution with invitations on, it queues due first
// emails and reminders, and inside the institution's sending window sends everything the
// rate limits allow, in claimed chunks: each chunk's tokens (single use; only their SHA-256
// is stored) and document lists are set and read in one statement each, each email is
// rendered from templates/email and sent through the transport, and its outcome recorded
// (sent / deferred with backoff / failed, re-routed to a personal address when there is
// one) in one transaction before the next email leaves, so a crash can leave at most one
// email delivered but unrecorded.
// Thread contract: one Mailer per thread; it owns its transport (and SMTP connection).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/heartbeat.h"
#include "common/log.h"
#include "common/result.h"
#include "daemon/config/config.h"
#include "daemon/mail/mail_templates.h"
#include "daemon/mail/transport.h"
#include "daemon/metrics/credd_metrics.h"
#include "daemon/store/database.h"
#include "daemon/store/invitation_store.h"

namespace credd::mail {

struct MailerOptions {
  std::string owner;        // Lease owner: "<host>:<pid>", unique per process.
  int lease_seconds = 300;  // A claim not completed by then may be taken by another worker.
  // Claimed at a time. A round claims again and again until the rate limits or the queue
  // are exhausted, so this bounds the work in flight, not what a round sends.
  int claim_size = 500;
  int max_attempts = 30;  // A message still deferred after this many tries has failed.
  // Permanent refusals in a row that say nothing about the address (relaying denied, a
  // policy block) after which an institution's sending pauses until SIGHUP or
  // `credctl mail resume`: the relay is misconfigured, and every message would fail.
  int pause_after_refusals = 5;
  const std::atomic<bool>* stop = nullptr;  // Set on shutdown: unsent claims are given back.
  Heartbeat* heartbeat = nullptr;           // Beaten per email, for the watchdog.
  // Windows, limits, backoff, token expiry and leases all read it (tests pin it).
  const Clock* clock = &SystemClock();
  CreddMetrics* metrics = nullptr;  // Emails by outcome and send times; null = not counted.
};

class Mailer {
 public:
  Mailer(Database& database, Logger& log, std::unique_ptr<MailTransport> transport,
         std::unique_ptr<MailTemplates> templates, MailerOptions options);

  // One round: everything due now that the windows and limits allow. Returns the
  // emails handed to the transport; kUnavailable when the database is unreachable (the
  // round is simply tried again).
  Result<int> RunOnce(const Config& config);

  // Account mail alone (shares, confirmations, resets): what the global limits allow now,
  // whatever the invitation windows say. RunOnce sends it first; the daemon also calls this
  // as soon as the HTTP side queues one. Returns the emails handed to the transport.
  Result<int> SendAccountMail(const Config& config);

  // Ends the transport's connection (QUIT).
  void Close();

  // The flag that, once set, ends a round early (the daemon's shutdown).
  void SetStopFlag(const std::atomic<bool>* stop) { options_.stop = stop; }
  // The mail thread's heartbeat, beaten per email.
  void SetHeartbeat(Heartbeat* heartbeat) { options_.heartbeat = heartbeat; }

 private:
  // A claimed chunk on its way out.
  struct Chunk {
    std::vector<ClaimedMail> mail;
    std::map<int64_t, std::vector<DocumentLine>> documents;  // By student (students.id).
    std::set<int64_t> ours;                         // Outbox ids whose lease we still hold.
    std::chrono::steady_clock::time_point renewed;  // When those leases last began a term.
    std::chrono::system_clock::time_point expires;  // Of the tokens set for this chunk.
  };
  struct ChunkResult {
    size_t claimed = 0;
    int sent = 0;
    bool paused = false;  // The relay refused enough in a row to pause the institution.
  };

  Result<int> RunInstitution(Store& conn, const Config& config,
                             const InstitutionConfig& institution);
  Result<ChunkResult> SendChunk(Store& conn, const Config& config,
                                const InstitutionConfig& institution);
  Status PrepareChunk(Store& conn, const InstitutionConfig& institution, Chunk& chunk);
  Status KeepLeases(Store& conn, Chunk& chunk, size_t from);
  void ReleaseFrom(Store& conn, const Chunk& chunk, size_t from);
  Status SendOne(Store& conn, const Config& config, const InstitutionConfig& institution,
                 const ClaimedMail& mail, const Chunk& chunk);
  Status Record(Store& conn, const Config& config, const InstitutionConfig& institution,
                const ClaimedMail& mail, SendOutcome outcome);
  Status PauseIfRelayRefuses(Store& conn, const InstitutionConfig& institution,
                             const SendOutcome& outcome);
  Result<int> SendAccountMailOn(Store& conn, const Config& config);
  Status RecordAccountMail(Store& conn, const Config& config, const AccountMail& mail,
                           SendOutcome outcome);
  void Count(const SendOutcome& outcome);
  bool Stopping() const { return options_.stop != nullptr && options_.stop->load(); }

  Database& database_;
  Logger& log_;
  std::unique_ptr<MailTransport> transport_;
  std::unique_ptr<MailTemplates> templates_;
  MailerOptions options_;
  const Clock& clock_;
  // Raw tokens (and access codes) of emails whose delivery is uncertain or deferred, by
  // outbox row, so that a retry from this process carries the very same link and code.
  // Never logged, never stored.
  struct Secrets {
    std::string token;
    std::string code;  // Empty when the institution's activation page is not credd's.
  };
  std::map<int64_t, Secrets> pending_tokens_;
  // Policy refusals in a row, per institution (reset by a delivered email).
  std::map<std::string, int> refusals_in_a_row_;
  bool paused_now_ = false;  // Record paused the institution: end its round.
};

// A Mailer for the config: the SMTP or maildir transport (reading the SMTP password from
// its secret source) and the email templates under templates_dir/email.
Result<std::unique_ptr<Mailer>> BuildMailer(const Config& config, Database& database, Logger& log,
                                            const std::string& templates_dir,
                                            CreddMetrics* metrics = nullptr);

// The domain of an address ("registrar@college.ca" -> "college.ca"), for Message-IDs.
std::string DomainOf(const std::string& address);

// 256 random bits, base64url without padding (43 characters); empty if the system's
// random source failed (never a weak token).
std::string NewToken();

// An access code to type beside the email address: 10 characters from an alphabet without
// look-alikes (no 0/O, 1/I/L, U), about 49 bits, shown as "XXXXX-XXXXX"; empty if the random
// source failed. Stored only salted and hashed (AccessCodeHash), and void after a few tries.
std::string NewAccessCode();

}  // namespace credd::mail
