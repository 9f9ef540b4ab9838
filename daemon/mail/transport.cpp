// What both transports share: the envelope address check and outcome names.
#include "daemon/mail/transport.h"

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

}  // namespace credd::mail
