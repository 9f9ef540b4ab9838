// Mail transports: hand one finished RFC 5322 message to an SMTP relay (Poco) or drop it into a
// maildir, and say exactly what became of it so the scheduler knows whether to retry.
// Thread contract: a MailTransport is used by one thread at a time; make one per sender.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/log.h"
#include "common/result.h"
#include "daemon/config/config.h"

namespace credd::mail {

// What happened to one message. The scheduler acts on kind; smtp_code and reply go into the
// invitation's report so staff can see the relay's own words.
struct SendOutcome {
  enum class Kind {
    kSent,      // The relay answered 2xx after the final dot: it has the message.
    kDeferred,  // 4xx, or no connection/timeout before the final dot was sent: retry later.
    kFailed,    // 5xx or a locally refused address: never retry, report.
    kUnknown,   // The connection died after the final dot, before the reply: it may have been
                // delivered; retry with the same Message-ID and log a possible duplicate.
  };
  Kind kind = Kind::kDeferred;
  int smtp_code = 0;  // The relay's reply code; 0 when the relay said nothing (local error).
  std::string reply;  // The server's reply line(s), or "local: ..." for errors found here.
  // kFailed only: the relay refused the RECIPIENT (5xx to RCPT TO, or 5.1.x after DATA).
  // Only then is the address itself bad; a refused sender or message says nothing about it.
  bool recipient_refused = false;
};

// Whether a permanent reply says the mailbox itself does not exist, so the address should
// be marked bounced: an RFC 3463 enhanced code 5.1.x about the recipient (not 5.1.7/5.1.8,
// which are about the sender), or, from a relay that gives no enhanced code, 550, 551 or
// 553. A policy refusal (5.7.x: "relaying denied"), any other enhanced code, and every
// other reply say nothing about the address.
bool MeansNoSuchMailbox(int code, std::string_view reply);

// Returns "sent", "deferred", "failed" or "unknown", for logs and reports.
const char* SendOutcomeKindName(SendOutcome::Kind kind);

// True when `address` may go into MAIL FROM:<...> or RCPT TO:<...>: local@domain, at most
// 254 bytes, no spaces, control characters (CR, LF, NUL) or angle brackets. Both transports
// refuse anything else with kFailed and reply "local: invalid address".
bool IsValidEnvelopeAddress(std::string_view address);

class MailTransport {
 public:
  virtual ~MailTransport() = default;
  // Sends `mime_bytes` (a complete RFC 5322 message with CRLF line ends) to `recipient`
  // with `envelope_from` as the return path. Never throws.
  virtual SendOutcome Send(const std::string& envelope_from, const std::string& recipient,
                           const std::string& mime_bytes) = 0;
  // Ends a reused connection politely (QUIT); the next Send connects again.
  virtual void Close() = 0;
  // Whether a message could be handed over now: the relay accepts a connection (greeting,
  // TLS, authentication; then QUIT), or the maildir can be written. kUnavailable saying why.
  // Uses its own connection, so it never disturbs one kept for sending.
  virtual Status Probe() = 0;
};

// The transport mail.transport names (smtp, with its password read now; or maildir).
Result<std::unique_ptr<MailTransport>> MakeTransport(const Config& config, Logger& log);

// An SMTP transport over one connection reused for many messages (opened on the first Send,
// reopened after an error). config.tls: "starttls" (required: never falls back to plain),
// "implicit" (TLS from the first byte, port 465) or "none" (tests and local relays; warned
// once). The relay's certificate chain is checked against config.ca_file, or the system
// store when it is empty, and its name against config.host. `password` is the already-read
// secret for config.username. An AUTH failure (535) is kDeferred, not kFailed: it is a
// configuration problem, and nothing should be lost while someone fixes it.
// `helo_name` defaults to this machine's fully qualified name ("localhost" if unknown).
// Errors: kConfig for an unknown tls mode, a bad port or timeout, or an unusable ca_file.
Result<std::unique_ptr<MailTransport>> MakeSmtpTransport(const SmtpConfig& config,
                                                         const std::string& password, Logger& log,
                                                         const std::string& helo_name = {});

// A transport that writes each message, byte for byte, to maildir/new/ (via tmp/, fsynced,
// then renamed), creating maildir/{tmp,new,cur}. An I/O error is kDeferred with its text.
// Errors: kIo when the folders cannot be created.
Result<std::unique_ptr<MailTransport>> MakeMaildirTransport(const std::string& maildir);

}  // namespace credd::mail
