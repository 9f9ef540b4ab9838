// Builds the bytes of one outgoing email (RFC 5322 headers, MIME multipart/alternative with a
// text and an HTML part) and refuses anything that could smuggle a header in. Thread
// contract: free functions over plain values; safe to call from any thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace credd::mail {

struct MailAddress {
  std::string display_name;  // UTF-8, may be empty; RFC 2047-encoded when not plain ASCII.
  std::string address;       // A bare addr-spec ("zoe@example.org"): ASCII dot-atoms only.
};

struct OutgoingMessage {
  MailAddress from;
  MailAddress to;
  std::optional<MailAddress> reply_to;
  std::string subject;    // UTF-8, one line.
  std::string text_body;  // UTF-8; any line ending (LF, CRLF or CR) becomes CRLF.
  std::string html_body;  // UTF-8; same line-ending rule.
  // Without angle brackets, e.g. "invitation-42@credd.example-college.ca". Derived from the
  // invitation id by the caller, so a retry is recognisably the same message.
  std::string message_id;
  std::chrono::system_clock::time_point date;  // Written in UTC ("+0000").
  // Further headers in order, e.g. {"X-Credd-Invitation", "42"}. Names must not repeat the
  // ones RenderMime writes (or Cc/Bcc/Sender); values must be printable ASCII.
  std::vector<std::pair<std::string, std::string>> extra_headers;
};

// The complete message with CRLF line ends, ready for SMTP DATA (before dot-stuffing) or a
// maildir file. Same message, same bytes: the MIME boundary comes from the message id.
// kData with `where` naming the field ("from.display_name", "subject", "to.address",
// "extra_headers[1].value", ...) when a value would break the header block or is not UTF-8.
Result<std::string> RenderMime(const OutgoingMessage& message);

// True when `value` is valid UTF-8 without C0 controls (CR, LF, NUL, TAB, ...), DEL, C1
// controls or the Unicode line/paragraph separators: such a value cannot end a header line
// here or in any reader that splits lines on Unicode breaks.
bool IsSafeHeaderValue(std::string_view value);

// The bare address for the SMTP envelope (MAIL FROM / RCPT TO), after the same validation
// RenderMime applies; `where` names the field in the error ("to.address").
Result<std::string> EnvelopeAddress(const MailAddress& address,
                                    const std::string& where = "address");

}  // namespace credd::mail
