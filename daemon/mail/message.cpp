// RenderMime: validation first (every header value and address), then the header block
// (folded, RFC 2047 where needed) and the two quoted-printable parts.
#include "daemon/mail/message.h"

#include <Poco/Base64Encoder.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DigestEngine.h>
#include <Poco/Net/MediaType.h>
#include <Poco/Net/QuotedPrintableEncoder.h>
#include <Poco/SHA1Engine.h>
#include <Poco/Timestamp.h>
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <exception>
#include <sstream>

namespace credd::mail {
namespace {

// RFC 5322 2.1.1: lines SHOULD stay within 78 characters and MUST stay within 998.
constexpr std::size_t kSoftLineLimit = 78;
constexpr std::size_t kHardLineLimit = 998;
// RFC 2047 caps an encoded-word at 75 characters; 39 bytes give 52 base64 characters, so a
// word is 64 characters and fits after the longest header name we write ("Reply-To: ").
constexpr std::size_t kEncodedWordBytes = 39;

// Decodes the code point at `pos` and advances past it; -1 for invalid UTF-8 (utf8proc
// also refuses overlong forms and surrogates).
utf8proc_int32_t NextCodePoint(std::string_view text, std::size_t& pos) {
  utf8proc_int32_t code_point = -1;
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data() + pos);
  utf8proc_ssize_t used =
      utf8proc_iterate(bytes, static_cast<utf8proc_ssize_t>(text.size() - pos), &code_point);
  if (used <= 0) return -1;
  pos += static_cast<std::size_t>(used);
  return code_point;
}

bool IsUnsafeCodePoint(utf8proc_int32_t code_point) {
  return code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F) || code_point == 0x2028 ||
         code_point == 0x2029;
}

std::string CodePointLabel(utf8proc_int32_t code_point) {
  std::array<char, 16> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "U+%04X", static_cast<unsigned>(code_point));
  return buffer.data();
}

// The precise reason a header value is refused, so the caller can tell staff which record
// carries a line break or a control character.
Status CheckHeaderText(std::string_view value, const std::string& where) {
  std::size_t pos = 0;
  while (pos < value.size()) {
    const std::size_t start = pos;
    const utf8proc_int32_t code_point = NextCodePoint(value, pos);
    if (code_point < 0) {
      return MakeError(ErrorCode::kData, "is not valid UTF-8 (byte " + std::to_string(start) + ")",
                       where);
    }
    if (IsUnsafeCodePoint(code_point)) {
      return MakeError(ErrorCode::kData,
                       "contains the control character " + CodePointLabel(code_point) +
                           " at byte " + std::to_string(start) +
                           "; header values must not carry CR, LF, NUL or other controls",
                       where);
    }
  }
  return Status::Ok();
}

Status CheckUtf8(std::string_view text, const std::string& where) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t start = pos;
    if (NextCodePoint(text, pos) < 0) {
      return MakeError(ErrorCode::kData, "is not valid UTF-8 (byte " + std::to_string(start) + ")",
                       where);
    }
  }
  return Status::Ok();
}

// RFC 5322 3.2.3 atext: what may appear unquoted in a dot-atom.
bool IsAtext(char c) {
  if (std::isalnum(static_cast<unsigned char>(c)) != 0) return true;
  static constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
  return kSpecials.find(c) != std::string_view::npos;
}

bool IsDotAtom(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '.') {
      if (text[i + 1] == '.') return false;
    } else if (!IsAtext(text[i])) {
      return false;
    }
  }
  return true;
}

bool IsHostName(std::string_view domain) {
  if (domain.empty() || domain.size() > 253) return false;
  std::size_t start = 0;
  while (start <= domain.size()) {
    std::size_t end = domain.find('.', start);
    if (end == std::string_view::npos) end = domain.size();
    const std::string_view label = domain.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-') return false;
    }
    start = end + 1;
  }
  return true;
}

// Only dot-atom local parts and host names: quoted local parts, domain literals and
// non-ASCII (SMTPUTF8) addresses are refused, since the relays we target and the students'
// schools do not need them and each is a parsing hazard downstream.
Status CheckAddrSpec(std::string_view address, const std::string& where) {
  const std::string quoted = "'" + std::string(address.substr(0, 100)) + "'";
  if (!IsSafeHeaderValue(address)) {
    return MakeError(ErrorCode::kData, "contains a control character or invalid UTF-8", where);
  }
  const std::size_t at = address.rfind('@');
  if (address.size() > 254 || at == std::string_view::npos) {
    return MakeError(ErrorCode::kData, quoted + " is not an email address (local@domain)", where);
  }
  const std::string_view local = address.substr(0, at);
  const std::string_view domain = address.substr(at + 1);
  if (local.size() > 64 || !IsDotAtom(local) || !IsHostName(domain)) {
    return MakeError(ErrorCode::kData,
                     quoted +
                         " is not a plain email address (ASCII local@host, no spaces, angle "
                         "brackets or quotes; give international domains in punycode)",
                     where);
  }
  return Status::Ok();
}

// RFC 5322 3.6.4 msg-id without the angle brackets: dot-atom-text "@" dot-atom-text.
Status CheckMessageId(std::string_view id) {
  const std::size_t at = id.find('@');
  if (id.size() > 900 || at == std::string_view::npos || !IsDotAtom(id.substr(0, at)) ||
      !IsDotAtom(id.substr(at + 1))) {
    return MakeError(ErrorCode::kData,
                     "must look like 'left@right' in dot-atoms, without angle brackets, "
                     "spaces or controls",
                     "message_id");
  }
  return Status::Ok();
}

// RFC 5322 3.6.8 field-name: printable ASCII except the colon.
bool IsFieldName(std::string_view name) {
  if (name.empty() || name.size() > 76) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return c > 32 && c < 127 && c != ':'; });
}

// Headers RenderMime owns, plus the ones that would change who receives the message.
bool IsReservedHeader(std::string_view name) {
  static constexpr std::array<std::string_view, 14> kReserved = {
      "date",         "from",          "to",      "cc",
      "bcc",          "reply-to",      "subject", "message-id",
      "mime-version", "content-type",  "sender",  "content-transfer-encoding",
      "return-path",  "auto-submitted"};
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(kReserved.begin(), kReserved.end(), lower) != kReserved.end();
}

std::string Base64(std::string_view bytes) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);  // Encoded-words must not contain line breaks.
  encoder.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  encoder.close();
  return out.str();
}

// RFC 2047 "B" encoded-words, cut on code point boundaries (2047 section 5 forbids
// splitting a character across words). Hand-written because Poco's MailMessage::encodeWord
// uses "Q" with quotes and apostrophes left bare, which RFC 2047 forbids inside a phrase
// (display names), and leaves ASCII text that looks like an encoded-word untouched.
std::vector<std::string> EncodedWords(std::string_view text) {
  std::vector<std::string> words;
  std::size_t start = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t next = pos;
    NextCodePoint(text, next);  // Valid: callers checked the whole value first.
    if (next - start > kEncodedWordBytes) {
      words.push_back("=?UTF-8?B?" + Base64(text.substr(start, pos - start)) + "?=");
      start = pos;
    }
    pos = next;
  }
  if (start < text.size() || words.empty()) {
    words.push_back("=?UTF-8?B?" + Base64(text.substr(start)) + "?=");
  }
  return words;
}

bool IsPrintableAscii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 32 && c < 127; });
}

std::vector<std::string> SplitOnSpaces(std::string_view text) {
  std::vector<std::string> tokens;
  std::size_t start = 0;
  while (true) {
    const std::size_t space = text.find(' ', start);
    if (space == std::string_view::npos) {
      tokens.emplace_back(text.substr(start));
      return tokens;
    }
    tokens.emplace_back(text.substr(start, space - start));
    start = space + 1;
  }
}

// "Name: tok tok tok\r\n", folded before a space whenever the next token would pass 78
// characters. Unfolding (removing the CRLFs) gives back exactly the tokens joined by single
// spaces. Empty tokens (runs of spaces) never start a line, so no line is whitespace only.
std::string FoldHeader(std::string_view name, const std::vector<std::string>& tokens) {
  std::string out;
  std::string line(name);
  line += ':';
  bool line_has_token = false;
  for (const std::string& token : tokens) {
    if (!token.empty() && line_has_token && line.size() + 1 + token.size() > kSoftLineLimit) {
      out += line + "\r\n";
      line.clear();
    }
    line += ' ';
    line += token;
    line_has_token = line_has_token || !token.empty();
  }
  out += line + "\r\n";
  return out;
}

// Unstructured text (Subject): plain words when they fold within the limit and cannot be
// mistaken for encoded-words, else encoded-words throughout. Folds go only before a word,
// so a run of spaces (an empty token) would stay on one line however long it is: text with
// leading, trailing or doubled spaces is encoded too, which keeps every space.
std::vector<std::string> UnstructuredTokens(std::string_view name, std::string_view text) {
  if (text.empty()) return {""};
  if (IsPrintableAscii(text) && text.find("=?") == std::string_view::npos) {
    std::vector<std::string> words = SplitOnSpaces(text);
    bool fits = words.front().size() + name.size() + 2 <= kSoftLineLimit;
    for (const std::string& word : words) {
      fits = fits && !word.empty() && word.size() + 1 <= kSoftLineLimit;
    }
    if (fits) return words;
  }
  return EncodedWords(text);
}

// The longest line of a folded header block, without its CRLF.
std::size_t LongestLine(std::string_view folded) {
  std::size_t longest = 0;
  std::size_t start = 0;
  while (start < folded.size()) {
    std::size_t end = folded.find("\r\n", start);
    if (end == std::string_view::npos) end = folded.size();
    longest = std::max(longest, end - start);
    start = end + 2;
  }
  return longest;
}

// A display name and its address: a quoted-string when the name is short printable ASCII,
// RFC 2047 encoded-words otherwise.
std::vector<std::string> AddressTokens(const MailAddress& address) {
  std::vector<std::string> tokens;
  const std::string& name = address.display_name;
  if (name.empty()) {
    tokens.push_back(address.address);
    return tokens;
  }
  if (IsPrintableAscii(name) && name.find("=?") == std::string::npos && name.size() <= 60) {
    std::string quoted = "\"";
    for (char c : name) {
      if (c == '"' || c == '\\') quoted += '\\';
      quoted += c;
    }
    tokens.push_back(quoted + "\"");
  } else {
    tokens = EncodedWords(name);
  }
  tokens.push_back("<" + address.address + ">");
  return tokens;
}

Status CheckAddress(const MailAddress& address, const std::string& field) {
  if (Status status = CheckHeaderText(address.display_name, field + ".display_name"); !status) {
    return status;
  }
  return CheckAddrSpec(address.address, field + ".address");
}

// Quoted-printable bodies must use CRLF for hard line breaks (RFC 2045 6.7); Poco's encoder
// passes line breaks through as given, so they are normalised first.
std::string NormaliseLineEnds(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 40);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (text[i] == '\n') {
      out += "\r\n";
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string QuotedPrintable(std::string_view text) {
  std::ostringstream out;
  Poco::Net::QuotedPrintableEncoder encoder(out);
  const std::string normalised = NormaliseLineEnds(text);
  encoder.write(normalised.data(), static_cast<std::streamsize>(normalised.size()));
  encoder.close();
  return out.str();
}

// Deterministic per message id, so a retried message is byte-identical. "=_" cannot occur
// in quoted-printable output (a bare "=" always starts "=XX" or a soft break), yet we check
// the bodies before and after encoding, and move to the next candidate, rather than rely on
// that alone.
Result<std::string> MimeBoundary(const std::string& message_id,
                                 const std::vector<const std::string*>& bodies) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    Poco::SHA1Engine sha1;
    sha1.update(message_id + "#" + std::to_string(attempt));
    const std::string boundary =
        "=_credd_" + Poco::DigestEngine::digestToHex(sha1.digest()).substr(0, 24);
    const bool clashes = std::any_of(bodies.begin(), bodies.end(), [&](const std::string* b) {
      return b->find(boundary) != std::string::npos;
    });
    if (!clashes) return boundary;
  }
  return MakeError(ErrorCode::kInternal, "no MIME boundary absent from the bodies", message_id);
}

std::string FormatDate(std::chrono::system_clock::time_point date) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(date.time_since_epoch()).count();
  // Poco's names are fixed English, as RFC 5322 3.3 requires, whatever the C locale says.
  return Poco::DateTimeFormatter::format(Poco::Timestamp(micros), "%w, %e %b %Y %H:%M:%S +0000");
}

Status CheckMessage(const OutgoingMessage& message) {
  if (Status status = CheckAddress(message.from, "from"); !status) return status;
  if (Status status = CheckAddress(message.to, "to"); !status) return status;
  if (message.reply_to) {
    if (Status status = CheckAddress(*message.reply_to, "reply_to"); !status) return status;
  }
  if (Status status = CheckHeaderText(message.subject, "subject"); !status) return status;
  if (Status status = CheckMessageId(message.message_id); !status) return status;
  for (std::size_t i = 0; i < message.extra_headers.size(); ++i) {
    const auto& [name, value] = message.extra_headers[i];
    const std::string where = "extra_headers[" + std::to_string(i) + "]";
    if (!IsFieldName(name)) {
      return MakeError(ErrorCode::kData, "is not a header name (printable ASCII, no colon)",
                       where + ".name");
    }
    if (IsReservedHeader(name)) {
      return MakeError(ErrorCode::kData, "'" + name + "' is written by RenderMime itself",
                       where + ".name");
    }
    if (Status status = CheckHeaderText(value, where + ".value"); !status) return status;
    if (!IsPrintableAscii(value)) {
      return MakeError(ErrorCode::kData, "must be printable ASCII", where + ".value");
    }
    // Checked on the folded header itself: a long word and a long run of spaces (which
    // folding cannot break) both make a line over the limit.
    if (LongestLine(FoldHeader(name, SplitOnSpaces(value))) > kHardLineLimit) {
      return MakeError(ErrorCode::kData,
                       "makes a header line longer than " + std::to_string(kHardLineLimit) +
                           " characters (a word or a run of spaces too long to fold)",
                       where + ".value");
    }
  }
  if (message.text_body.empty()) {
    return MakeError(ErrorCode::kData, "is empty", "text_body");
  }
  if (message.html_body.empty()) {
    return MakeError(ErrorCode::kData, "is empty", "html_body");
  }
  if (Status status = CheckUtf8(message.text_body, "text_body"); !status) return status;
  return CheckUtf8(message.html_body, "html_body");
}

Result<std::string> BuildMime(const OutgoingMessage& message) {
  const std::string text = QuotedPrintable(message.text_body);
  const std::string html = QuotedPrintable(message.html_body);
  Result<std::string> boundary =
      MimeBoundary(message.message_id, {&message.text_body, &message.html_body, &text, &html});
  if (!boundary) return boundary.error();

  std::string out;
  out += "Date: " + FormatDate(message.date) + "\r\n";
  out += FoldHeader("From", AddressTokens(message.from));
  out += FoldHeader("To", AddressTokens(message.to));
  if (message.reply_to) out += FoldHeader("Reply-To", AddressTokens(*message.reply_to));
  out += FoldHeader("Subject", UnstructuredTokens("Subject", message.subject));
  out += "Message-ID: <" + message.message_id + ">\r\n";
  for (const auto& [name, value] : message.extra_headers) {
    out += FoldHeader(name, SplitOnSpaces(value));
  }
  out += "MIME-Version: 1.0\r\n";
  // RFC 3834: tells vacation responders and other robots not to answer.
  out += "Auto-Submitted: auto-generated\r\n";
  // Poco's MediaType quotes the boundary ("=" is a tspecial); folded before the parameter,
  // as one line it would pass 78 characters.
  Poco::Net::MediaType content_type("multipart", "alternative");
  content_type.setParameter("boundary", *boundary);
  std::string content_type_line = content_type.toString();
  const std::size_t parameter = content_type_line.find("; ");
  if (parameter != std::string::npos) content_type_line.replace(parameter, 2, ";\r\n ");
  out += "Content-Type: " + content_type_line + "\r\n\r\n";

  const auto part = [&](const char* subtype, const std::string& body) {
    out += "--" + *boundary + "\r\n";
    out += std::string("Content-Type: text/") + subtype + "; charset=UTF-8\r\n";
    out += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    out += body;
    // The CRLF before a delimiter belongs to the delimiter (RFC 2046 5.1.1).
    out += "\r\n";
  };
  part("plain", text);
  part("html", html);
  out += "--" + *boundary + "--\r\n";
  return out;
}

}  // namespace

bool IsSafeHeaderValue(std::string_view value) {
  std::size_t pos = 0;
  while (pos < value.size()) {
    const utf8proc_int32_t code_point = NextCodePoint(value, pos);
    if (code_point < 0 || IsUnsafeCodePoint(code_point)) return false;
  }
  return true;
}

Result<std::string> EnvelopeAddress(const MailAddress& address, const std::string& where) {
  if (Status status = CheckAddrSpec(address.address, where); !status) return status.error();
  return address.address;
}

Result<std::string> RenderMime(const OutgoingMessage& message) {
  if (Status status = CheckMessage(message); !status) return status.error();
  // Poco's encoders report failure by exception; none should occur on a string stream, but
  // nothing may escape this module.
  try {
    return BuildMime(message);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string("building the message failed: ") + e.what(),
                     message.message_id);
  }
}

}  // namespace credd::mail
