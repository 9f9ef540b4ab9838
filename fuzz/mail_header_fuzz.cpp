// Fuzz target: the MIME builder's header encoding (daemon/mail/message.cpp: validation,
// RFC 2047 encoded-words, folding). Input fields, split on "\n--\n": from display name, to
// display name, subject, one extra header value, text body. Whatever RenderMime accepts
// must have CRLF-only lines within 998 characters, and its Subject must unfold and decode
// back to exactly the subject given.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/mail/message.h"
#include "fuzz/fuzz_support.h"

namespace {

using credd::fuzz::Check;

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string DecodeBase64(std::string_view text) {
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (char c : text) {
    if (c == '=') break;
    const int value = Base64Value(c);
    Check(value >= 0, "an encoded-word holds a non-base64 character");
    bits = (bits << 6) | static_cast<unsigned>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

// The Subject header's value with folding removed and encoded-words decoded.
std::string DecodedSubject(const std::string& mime) {
  const std::size_t start = mime.find("\r\nSubject: ");
  Check(start != std::string::npos, "no Subject header");
  std::string value;
  std::size_t pos = start + 11;
  for (;;) {
    const std::size_t end = mime.find("\r\n", pos);
    value += mime.substr(pos, end - pos);
    if (mime.compare(end + 2, 1, " ") != 0) break;  // The next line is a new header.
    pos = end + 2;
  }
  if (value.rfind("=?UTF-8?B?", 0) != 0) return value;
  std::string decoded;
  std::size_t at = 0;
  while (at < value.size()) {
    Check(value.compare(at, 10, "=?UTF-8?B?") == 0, "a Subject token is not an encoded-word");
    const std::size_t close = value.find("?=", at + 10);
    Check(close != std::string::npos, "an unterminated encoded-word");
    Check(close + 2 - at <= 75, "an encoded-word longer than 75 characters");
    decoded += DecodeBase64(std::string_view(value).substr(at + 10, close - at - 10));
    at = close + 2;
    if (at < value.size()) {
      Check(value[at] == ' ', "encoded-words not separated by a space");
      ++at;
    }
  }
  return decoded;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace credd::mail;
  const auto fields = credd::fuzz::SplitFields(data, size, 5);
  OutgoingMessage message;
  message.from = {fields[0], "registrar@college.example.ca"};
  message.to = {fields[1], "student@example.org"};
  message.subject = fields[2];
  if (!fields[3].empty()) message.extra_headers = {{"X-Credd-Note", fields[3]}};
  message.text_body = fields[4].empty() ? "text" : fields[4];
  message.html_body = "<p>html</p>";
  message.message_id = "fuzz-1@credd.example.ca";
  auto mime = RenderMime(message);
  if (!mime) {
    Check(!mime.error().where.empty(), "a refused message that names no field");
    return 0;
  }
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < mime->size(); ++i) {
    const char c = (*mime)[i];
    if (c == '\n') Check(i > 0 && (*mime)[i - 1] == '\r', "a bare LF in the message");
    if (c == '\r') Check(i + 1 < mime->size() && (*mime)[i + 1] == '\n', "a bare CR");
    if (c == '\n') {
      Check(i - line_start <= 999, "a line longer than 998 characters");
      line_start = i + 1;
    }
  }
  Check(DecodedSubject(*mime) == message.subject, "the Subject does not decode to the input");
  return 0;
}
