// What both transports share: the envelope address check and outcome names.
#include "daemon/mail/transport.h"

#include <cctype>

namespace credd::mail {

// Refuses what could smuggle extra commands into the envelope or break the <...> syntax.
bool IsValidEnvelopeAddress(std::string_view address) {
  if (address.empty() || address.size() > 254) return false;
  for (const char c : address) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f || c == '<' || c == '>') return false;
  }
  const std::size_t at = address.rfind('@');
  return at != std::string_view::npos && at > 0 && at + 1 < address.size();
}

namespace {

// The enhanced status code at the start of a reply's text ("550 5.1.1 <x>: no such user"
// -> {5, 1, 1}), when there is one. Each part is 1-3 digits (RFC 3463).
bool ParseEnhancedCode(std::string_view reply, int parts[3]) {
  size_t i = 0;
  if (reply.size() >= 4 && std::isdigit(static_cast<unsigned char>(reply[0])) &&
      std::isdigit(static_cast<unsigned char>(reply[1])) &&
      std::isdigit(static_cast<unsigned char>(reply[2])) && (reply[3] == ' ' || reply[3] == '-')) {
    i = 4;  // The reply line's own code, when the transport kept it.
  }
  while (i < reply.size() && reply[i] == ' ') ++i;
  for (int p = 0; p < 3; ++p) {
    int value = 0;
    int digits = 0;
    while (i < reply.size() && std::isdigit(static_cast<unsigned char>(reply[i])) && digits < 4) {
      value = value * 10 + (reply[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || digits > 3) return false;
    parts[p] = value;
    if (p < 2) {
      if (i >= reply.size() || reply[i] != '.') return false;
      ++i;
    }
  }
  return i == reply.size() || reply[i] == ' ' || reply[i] == '\r' || reply[i] == '\n';
}

}  // namespace

bool MeansNoSuchMailbox(int code, std::string_view reply) {
  if (code < 500 || code >= 600) return false;
  int parts[3] = {0, 0, 0};
  if (ParseEnhancedCode(reply, parts)) {
    return parts[0] == 5 && parts[1] == 1 && parts[2] != 7 && parts[2] != 8;
  }
  return code == 550 || code == 551 || code == 553;
}

const char* SendOutcomeKindName(SendOutcome::Kind kind) {
  switch (kind) {
    case SendOutcome::Kind::kSent:
      return "sent";
    case SendOutcome::Kind::kDeferred:
      return "deferred";
    case SendOutcome::Kind::kFailed:
      return "failed";
    case SendOutcome::Kind::kUnknown:
      return "unknown";
  }
  return "?";
}

Result<std::unique_ptr<MailTransport>> MakeTransport(const Config& config, Logger& log) {
  if (config.mail.transport != "smtp") return MakeMaildirTransport(config.mail.maildir);
  auto password = config.mail.smtp.password.Read();
  if (!password) return password.error();
  return MakeSmtpTransport(config.mail.smtp, *password, log);
}

}  // namespace credd::mail
