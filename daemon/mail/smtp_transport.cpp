// SMTP transport over Poco: one connection reused for many messages, STARTTLS required unless
// configured otherwise, and every reply code classified so the scheduler retries only what is
// safe to retry. Poco exceptions are caught here and turned into outcomes by one helper.
#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/DialogSocket.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/RejectCertificateHandler.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "daemon/mail/transport.h"

namespace credd::mail {
namespace {

using Kind = SendOutcome::Kind;

// Poco's SMTPClientSession reads replies with a loop that spins forever when the peer closes
// in the middle of a multi-line reply, so replies are read here, line by line, and only the
// AUTH exchanges (single-line replies) go through Poco's own login methods.
class SmtpSession : public Poco::Net::SMTPClientSession {
 public:
  explicit SmtpSession(const Poco::Net::StreamSocket& socket) : SMTPClientSession(socket) {}

  // Reads one complete reply; its lines are joined with '\n'. A peer that hangs up is an
  // exception, like any other I/O failure, so callers handle both in one place. Poco caps
  // each line at 4096 bytes, so a runaway relay cannot fill our memory.
  int ReadReply(std::string* reply) {
    reply->clear();
    for (;;) {
      std::string line;
      if (!socket().receiveMessage(line)) {
        throw Poco::Net::ConnectionResetException("connection closed by the server");
      }
      if (!reply->empty()) reply->push_back('\n');
      reply->append(line);
      const bool numbered = line.size() >= 3 && std::isdigit(static_cast<unsigned char>(line[0])) &&
                            std::isdigit(static_cast<unsigned char>(line[1])) &&
                            std::isdigit(static_cast<unsigned char>(line[2]));
      if (!numbered) throw Poco::Net::SMTPException("malformed reply", line);
      if (line.size() == 3 || line[3] != '-') return std::stoi(line.substr(0, 3));
    }
  }

  int Command(const std::string& command, std::string* reply) {
    socket().sendMessage(command);
    return ReadReply(reply);
  }

  // Sends bytes as they are; MSG_NOSIGNAL keeps a hung-up relay from killing the daemon.
  void SendRaw(const std::string& bytes) {
    if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
      throw Poco::Net::MessageException("message too large");
    }
    const int sent = socket().sendBytes(bytes.data(), static_cast<int>(bytes.size()), MSG_NOSIGNAL);
    if (sent != static_cast<int>(bytes.size())) {
      throw Poco::IOException("short write to the relay");
    }
  }

  // Wraps the connected socket in TLS, checking the certificate against `host`.
  void StartTls(const std::string& host, const Poco::Net::Context::Ptr& context,
                const Poco::Timespan& timeout) {
    socket() = Poco::Net::SecureStreamSocket::attach(socket(), host, context);
    setTimeout(timeout);
  }

  void AuthPlain(const std::string& user, const std::string& password) {
    loginUsingPlain(user, password);
  }
  void AuthLogin(const std::string& user, const std::string& password) {
    loginUsingLogin(user, password);
  }
};

// Where in the conversation a failure happened; after kAwaitingFinalReply a lost connection
// may have delivered the message.
enum class Step { kConnect, kMailFrom, kRecipient, kData, kBody, kAwaitingFinalReply };

const char* StepName(Step step) {
  switch (step) {
    case Step::kConnect:
      return "connect";
    case Step::kMailFrom:
      return "MAIL FROM";
    case Step::kRecipient:
      return "RCPT TO";
    case Step::kData:
      return "DATA";
    case Step::kBody:
      return "message body";
    case Step::kAwaitingFinalReply:
      return "reply to the final dot";
  }
  return "?";
}

// The one place Poco (and standard library) exceptions become outcomes. Nothing sent before
// the final dot can have been delivered, so it is kDeferred; after it, kUnknown.
SendOutcome OutcomeFromCurrentException(Step step) {
  SendOutcome outcome;
  outcome.kind = step == Step::kAwaitingFinalReply ? Kind::kUnknown : Kind::kDeferred;
  const std::string during = std::string(" (during ") + StepName(step) + ")";
  try {
    throw;
  } catch (const Poco::Net::SMTPException& e) {
    // Thrown by Poco's AUTH methods with the relay's reply as the message and its code.
    outcome.smtp_code = e.code();
    outcome.reply = e.message();
  } catch (const Poco::TimeoutException&) {
    outcome.reply = "local: timed out" + during;
  } catch (const Poco::Net::SSLException& e) {
    // CertificateValidationException and SSLContextException are SSLExceptions.
    outcome.reply = "local: TLS: " + e.displayText() + during;
  } catch (const Poco::Exception& e) {
    outcome.reply = "local: " + e.displayText() + during;
  } catch (const std::exception& e) {
    outcome.reply = std::string("local: ") + e.what() + during;
  } catch (...) {
    outcome.reply = "local: unknown error" + during;
  }
  return outcome;
}

SendOutcome Classify(int code, std::string reply) {
  SendOutcome outcome;
  outcome.smtp_code = code;
  outcome.reply = std::move(reply);
  if (code >= 200 && code < 300) {
    outcome.kind = Kind::kSent;
  } else if (code >= 500 && code < 600) {
    outcome.kind = Kind::kFailed;
  } else {
    // 4xx, and anything a well-behaved relay would not say here, is worth a later try.
    outcome.kind = Kind::kDeferred;
  }
  return outcome;
}

SendOutcome LocalDeferral(std::string reply, int code = 0) {
  return SendOutcome{Kind::kDeferred, code, std::move(reply)};
}

// The DATA payload: CRLF line ends everywhere (a bare LF or CR becomes CRLF, so no relay can
// read a line end we did not mean), a '.' doubled at the start of each line (RFC 5321
// 4.5.2), and the terminating CRLF.CRLF.
std::string DotStuff(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 32 + 8);
  bool line_start = true;
  for (std::size_t i = 0; i < message.size(); ++i) {
    const char c = message[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < message.size() && message[i + 1] == '\n') ++i;
      out += "\r\n";
      line_start = true;
      continue;
    }
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = false;
  }
  if (!line_start) out += "\r\n";
  out += ".\r\n";
  return out;
}

// Extensions from an EHLO reply, upper-cased: "250-STARTTLS" -> "STARTTLS",
// "250 AUTH PLAIN LOGIN" -> "AUTH PLAIN LOGIN". The first line is the greeting.
std::string Capability(const std::string& ehlo_reply, std::string_view keyword) {
  std::size_t start = ehlo_reply.find('\n');
  while (start != std::string::npos) {
    const std::size_t end = ehlo_reply.find('\n', start + 1);
    std::string line =
        ehlo_reply.substr(start + 1, end == std::string::npos ? end : end - start - 1);
    start = end;
    if (line.size() < 4) continue;
    line = line.substr(4);
    for (char& c : line) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (line.compare(0, keyword.size(), keyword) == 0 &&
        (line.size() == keyword.size() || line[keyword.size()] == ' ')) {
      return line;
    }
  }
  return {};
}

bool HasWord(const std::string& line, std::string_view word) {
  std::size_t pos = 0;
  while ((pos = line.find(word, pos)) != std::string::npos) {
    const bool starts = pos == 0 || line[pos - 1] == ' ';
    const bool ends = pos + word.size() == line.size() || line[pos + word.size()] == ' ';
    if (starts && ends) return true;
    pos += word.size();
  }
  return false;
}

std::string DefaultHeloName() {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0 || host[0] == '\0') return "localhost";
  addrinfo hints{};
  hints.ai_flags = AI_CANONNAME;
  addrinfo* info = nullptr;
  std::string name = host.data();
  if (::getaddrinfo(host.data(), nullptr, &hints, &info) == 0) {
    if (info != nullptr && info->ai_canonname != nullptr) name = info->ai_canonname;
    ::freeaddrinfo(info);
  }
  return name;
}

class SmtpTransport final : public MailTransport {
 public:
  SmtpTransport(SmtpConfig config, std::string password, Logger& log, std::string helo_name,
                Poco::Net::Context::Ptr context)
      : config_(std::move(config)),
        password_(std::move(password)),
        log_(log),
        helo_name_(std::move(helo_name)),
        context_(std::move(context)),
        timeout_(config_.timeout_seconds, 0) {}

  ~SmtpTransport() override { Close(); }

  SendOutcome Send(const std::string& envelope_from, const std::string& recipient,
                   const std::string& mime_bytes) override {
    if (!IsValidEnvelopeAddress(envelope_from) || !IsValidEnvelopeAddress(recipient)) {
      return SendOutcome{Kind::kFailed, 0, "local: invalid address"};
    }
    const std::string payload = DotStuff(mime_bytes);
    for (int attempt = 0;; ++attempt) {
      const bool reused = session_ != nullptr;
      if (!reused) {
        if (std::optional<SendOutcome> failure = Connect()) return *failure;
      }
      bool stale = false;
      SendOutcome outcome = Transaction(envelope_from, recipient, payload, &stale);
      // A relay may close a connection we kept idle (with a 421 or silently). That shows on
      // MAIL FROM, before the relay took anything of this message, so one fresh try is safe.
      if (stale && reused && attempt == 0) {
        log_.Debug("smtp_reconnect", {{"host", config_.host}, {"reply", outcome.reply}});
        continue;
      }
      return outcome;
    }
  }

  Status Probe() override {
    // A fresh transport with the same settings, so a connection kept for sending is left
    // as it is.
    SmtpTransport probe(config_, password_, log_, helo_name_, context_);
    if (std::optional<SendOutcome> failure = probe.Connect()) {
      return MakeError(ErrorCode::kUnavailable, "cannot connect: " + failure->reply, Where());
    }
    probe.Close();
    return Status::Ok();
  }

  void Close() override {
    if (session_ == nullptr) return;
    try {
      std::string reply;
      session_->Command("QUIT", &reply);
    } catch (...) {
      // The connection is going away either way; a relay that does not answer QUIT has lost
      // nothing of ours.
    }
    Drop();
  }

 private:
  std::string Where() const { return config_.host + ":" + std::to_string(config_.port); }

  void Drop() { session_.reset(); }  // Poco's destructor closes the socket and never throws.

  // Opens, greets, secures and authenticates a connection. Returns the reason as a kDeferred
  // outcome when that fails: nothing of the message has been sent yet.
  std::optional<SendOutcome> Connect() {
    std::optional<SendOutcome> failure;
    try {
      failure = ConnectOrThrow();
    } catch (...) {
      failure = OutcomeFromCurrentException(Step::kConnect);
    }
    if (failure) {
      Drop();
      failure->kind = Kind::kDeferred;
      log_.Warn("smtp_connect_failed", {{"relay", Where()},
                                        {"code", std::to_string(failure->smtp_code)},
                                        {"reply", failure->reply}});
      return failure;
    }
    log_.Debug("smtp_connected", {{"relay", Where()}, {"tls", config_.tls}});
    return std::nullopt;
  }

  std::optional<SendOutcome> ConnectOrThrow() {
    const Poco::Net::SocketAddress address(config_.host, static_cast<Poco::UInt16>(config_.port));
    Poco::Net::StreamSocket socket;
    socket.connect(address, timeout_);
    socket.setNoDelay(true);
    socket.setReceiveTimeout(timeout_);
    socket.setSendTimeout(timeout_);
    if (config_.tls == "implicit") {
      socket = Poco::Net::SecureStreamSocket::attach(socket, config_.host, context_);
    }
    session_ = std::make_unique<SmtpSession>(socket);
    session_->setTimeout(timeout_);

    std::string reply;
    int code = session_->ReadReply(&reply);
    if (code != 220) return LocalDeferral(reply, code);
    std::string capabilities;
    if (std::optional<SendOutcome> failure = Hello(&capabilities)) return failure;

    if (config_.tls == "starttls") {
      if (Capability(capabilities, "STARTTLS").empty()) {
        return LocalDeferral("local: STARTTLS not offered by " + Where() +
                             "; refusing to send in clear (smtp.tls is starttls)");
      }
      code = session_->Command("STARTTLS", &reply);
      if (code != 220) return LocalDeferral(reply, code);
      session_->StartTls(config_.host, context_, timeout_);
      // RFC 3207: everything learnt before TLS is forgotten; ask again.
      if (std::optional<SendOutcome> failure = Hello(&capabilities)) return failure;
    }

    if (!config_.username.empty()) {
      const std::string auth = Capability(capabilities, "AUTH");
      if (HasWord(auth, "PLAIN")) {
        session_->AuthPlain(config_.username, password_);
      } else if (HasWord(auth, "LOGIN")) {
        session_->AuthLogin(config_.username, password_);
      } else {
        return LocalDeferral("local: " + Where() + " offers no AUTH PLAIN or LOGIN" +
                             (auth.empty() ? "" : " (" + auth + ")"));
      }
    }
    return std::nullopt;
  }

  std::optional<SendOutcome> Hello(std::string* capabilities) {
    int code = session_->Command("EHLO " + helo_name_, capabilities);
    // A relay too old for EHLO still takes mail over HELO, but offers no extensions, so
    // STARTTLS and AUTH then fail with their own clear messages.
    if (code >= 500 && code < 600) code = session_->Command("HELO " + helo_name_, capabilities);
    if (code != 250) return LocalDeferral(*capabilities, code);
    return std::nullopt;
  }

  // One MAIL/RCPT/DATA exchange on an open connection. Sets *stale when the connection was
  // found dead at MAIL FROM, the only point where resending cannot duplicate anything.
  SendOutcome Transaction(const std::string& from, const std::string& recipient,
                          const std::string& payload, bool* stale) {
    Step step = Step::kMailFrom;
    try {
      std::string reply;
      int code = session_->Command("MAIL FROM:<" + from + ">", &reply);
      if (code == 421) *stale = true;
      if (code / 100 != 2) return Abandon(code, std::move(reply));
      step = Step::kRecipient;
      code = session_->Command("RCPT TO:<" + recipient + ">", &reply);
      if (code / 100 != 2) {
        SendOutcome refused = Abandon(code, std::move(reply));
        // Only "no such mailbox" bounces the address: a relay refusing to relay at all
        // would otherwise bounce every student's addresses in one round.
        refused.recipient_refused =
            refused.kind == Kind::kFailed && MeansNoSuchMailbox(refused.smtp_code, refused.reply);
        return refused;
      }
      step = Step::kData;
      code = session_->Command("DATA", &reply);
      if (code != 354) return Abandon(code, std::move(reply));
      step = Step::kBody;
      session_->SendRaw(payload);
      step = Step::kAwaitingFinalReply;
      code = session_->ReadReply(&reply);
      // After the reply to the dot the relay has ended the transaction on its side, so the
      // connection is ready for the next MAIL FROM whatever the code was.
      if (code == 421) Drop();
      SendOutcome outcome = Classify(code, std::move(reply));
      // Some relays accept every RCPT and refuse the mailbox after DATA with 5.1.x; a bare
      // 550 there is as likely about the message, so only an enhanced code counts.
      outcome.recipient_refused = outcome.kind == Kind::kFailed &&
                                  outcome.reply.find(" 5.1.") != std::string::npos &&
                                  MeansNoSuchMailbox(outcome.smtp_code, outcome.reply);
      return outcome;
    } catch (...) {
      if (step == Step::kMailFrom) *stale = true;
      Drop();
      return OutcomeFromCurrentException(step);
    }
  }

  // Ends a refused transaction with RSET so the connection can carry the next message; a
  // relay that closes (421) or will not reset is dropped and reconnected next time.
  SendOutcome Abandon(int code, std::string reply) {
    SendOutcome outcome = Classify(code, std::move(reply));
    // A 2xx or 3xx where a refusal came means we are out of step with the relay: nothing was
    // delivered, and the connection cannot be trusted for the next message.
    const bool out_of_step = code < 400;
    if (out_of_step) outcome.kind = Kind::kDeferred;
    if (code == 421 || out_of_step) {
      Drop();
      return outcome;
    }
    try {
      std::string rset_reply;
      if (session_->Command("RSET", &rset_reply) != 250) Drop();
    } catch (...) {
      Drop();  // The refusal stands as the outcome; the next Send reconnects.
    }
    return outcome;
  }

  const SmtpConfig config_;
  const std::string password_;
  Logger& log_;
  const std::string helo_name_;
  const Poco::Net::Context::Ptr context_;  // Null for tls "none".
  const Poco::Timespan timeout_;
  std::unique_ptr<SmtpSession> session_;  // Null while not connected.
};

// Process-wide setup Poco's TLS needs once: OpenSSL initialisation, and a certificate handler
// that rejects (without one, whatever handler some other code registers would decide).
// SIGPIPE is ignored unless someone chose otherwise: TLS writes to a relay that hung up would
// otherwise kill the daemon instead of failing one send.
void InitialiseOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    Poco::Net::initializeSSL();
    Poco::Net::SSLManager::instance().initializeClient(
        nullptr, new Poco::Net::RejectCertificateHandler(false), nullptr);
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      ::signal(SIGPIPE, SIG_IGN);
    }
  });
}

Result<Poco::Net::Context::Ptr> MakeTlsContext(const SmtpConfig& config) {
  try {
    Poco::Net::Context::Params params;
    params.caLocation = config.ca_file;
    // A configured CA file replaces the system store: the relay is then pinned to that CA.
    params.loadDefaultCAs = config.ca_file.empty();
    // STRICT, not RELAXED: Poco skips the host name check for "localhost" under RELAXED.
    params.verificationMode = Poco::Net::Context::VERIFY_STRICT;
    params.cipherList = "DEFAULT";  // The system's OpenSSL policy, not Poco's own list.
    Poco::Net::Context::Ptr context(
        new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params));
    context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    return context;
  } catch (const Poco::Exception& e) {
    return MakeError(ErrorCode::kConfig, "cannot set up TLS: " + e.displayText(),
                     "mail.smtp.ca_file");
  }
}

}  // namespace

Result<std::unique_ptr<MailTransport>> MakeSmtpTransport(const SmtpConfig& config,
                                                         const std::string& password, Logger& log,
                                                         const std::string& helo_name) {
  if (config.tls != "starttls" && config.tls != "implicit" && config.tls != "none") {
    return MakeError(ErrorCode::kConfig,
                     "must be starttls, implicit or none, not \"" + config.tls + "\"",
                     "mail.smtp.tls");
  }
  if (config.port < 1 || config.port > 65535) {
    return MakeError(ErrorCode::kConfig, "must be 1..65535", "mail.smtp.port");
  }
  if (config.timeout_seconds < 1) {
    return MakeError(ErrorCode::kConfig, "must be at least 1", "mail.smtp.timeout_seconds");
  }
  if (config.host.empty()) return MakeError(ErrorCode::kConfig, "is empty", "mail.smtp.host");
  InitialiseOnce();
  Poco::Net::Context::Ptr context;
  if (config.tls == "none") {
    log.Warn("smtp_tls_disabled", {{"relay", config.host + ":" + std::to_string(config.port)},
                                   {"auth_in_clear", config.username.empty() ? "no" : "yes"}});
  } else {
    Result<Poco::Net::Context::Ptr> made = MakeTlsContext(config);
    if (!made) return made.error();
    context = std::move(made.value());
  }
  std::string helo = helo_name.empty() ? DefaultHeloName() : helo_name;
  return std::unique_ptr<MailTransport>(
      std::make_unique<SmtpTransport>(config, password, log, std::move(helo), std::move(context)));
}

}  // namespace credd::mail
