// ValidateRecord and its helpers: each rule adds a RecordError and moves on, so one pass
// reports every problem of a record. Unicode normalisation is utf8proc's.
#include "records/validate.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

namespace credd {
namespace {

constexpr std::size_t kMaxStudentId = 64;
constexpr std::size_t kMaxName = 200;
constexpr std::size_t kMaxTitle = 300;
constexpr std::size_t kMaxEmailBytes = 254;
constexpr std::size_t kMaxLocalPartBytes = 64;
constexpr std::size_t kMaxLabelBytes = 63;
constexpr std::string_view kEarliestIssueDate = "1900-01-01";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char ToLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = ToLower(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) { return Lower(a) == Lower(b); }

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsAsciiSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsAsciiSpace(text.back())) text.remove_suffix(1);
  return text;
}

// The lines of a value (ended by CRLF, CR or LF), each trimmed, joined by LF.
std::string JoinLines(std::string_view text) {
  std::string out;
  while (true) {
    const std::size_t end = text.find_first_of("\r\n");
    if (!out.empty()) out += '\n';
    out += Trim(text.substr(0, end));
    if (end == std::string_view::npos) return out;
    const bool crlf = text[end] == '\r' && end + 1 < text.size() && text[end + 1] == '\n';
    text.remove_prefix(end + (crlf ? 2 : 1));
  }
}

// Unicode code points, the unit length limits are stated in (the text is valid UTF-8 here).
std::size_t CodePoints(std::string_view text) {
  std::size_t count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return count;
}

// Decimal text as SIS systems write credits and GPAs: digits with at most one '.', at
// least one digit ("3", "3.00", ".5").
bool IsDecimal(std::string_view text) {
  bool digit = false;
  bool dot = false;
  for (char c : text) {
    if (IsDigit(c)) {
      digit = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      return false;
    }
  }
  return digit;
}

bool IsYyyyMmDd(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!IsDigit(text[i])) return false;
  }
  return true;
}

// RFC 5322 atext: what a dot-atom local part may hold besides the dots.
bool IsAtext(char c) {
  return IsAlpha(c) || IsDigit(c) ||
         std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool IsDotAtom(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return false;
  char previous = 0;
  for (char c : text) {
    if (c == '.' ? previous == '.' : !IsAtext(c)) return false;
    previous = c;
  }
  return true;
}

// A quoted local part without white space: printable ASCII, with '"' and '\' escaped.
bool IsQuotedLocalPart(std::string_view text) {
  if (text.size() < 2 || text.front() != '"' || text.back() != '"') return false;
  for (std::size_t i = 1; i + 1 < text.size(); ++i) {
    char c = text[i];
    if (c <= ' ' || c > '~') return false;
    if (c == '"') return false;
    if (c == '\\') {
      ++i;
      if (i + 1 >= text.size() || text[i] <= ' ' || text[i] > '~') return false;
    }
  }
  return true;
}

bool IsDomain(std::string_view domain) {
  std::size_t labels = 0;
  while (true) {
    std::size_t dot = domain.find('.');
    std::string_view label = domain.substr(0, dot);
    if (label.empty() || label.size() > kMaxLabelBytes || label.front() == '-' ||
        label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!IsAlpha(c) && !IsDigit(c) && c != '-') return false;
    }
    ++labels;
    if (dot == std::string_view::npos) break;
    domain.remove_prefix(dot + 1);
  }
  return labels >= 2;
}

std::string JoinAllowed(const std::string_view* begin, const std::string_view* end) {
  std::string out;
  for (const std::string_view* it = begin; it != end; ++it) {
    out += (out.empty() ? "" : ", ") + std::string(*it);
  }
  return out;
}

// Applies the rules to one record, collecting every failure.
class RecordChecker {
 public:
  RecordChecker(CredentialRecord& record, const ValidationOptions& options)
      : record_(record), options_(options) {}

  std::vector<RecordError> Check();

 private:
  enum class Tabs { kAllowed, kRejected };
  // A long credential title may be written on several lines, on purpose: the document
  // shows it so. Nothing else may hold a line break (it would reach a header or a key).
  enum class Breaks { kRefused, kKept };

  void Add(std::string field, std::string message) {
    errors_.push_back(RecordError{record_.line, 0, std::move(field), std::move(message)});
  }
  bool Clean(std::string& value, const std::string& field, Tabs tabs,
             Breaks breaks = Breaks::kRefused);
  void CheckLength(const std::string& value, const std::string& field, std::size_t limit);
  bool CheckRequired(const std::string& value, const std::string& field);
  void CheckEmail(std::string& value, const std::string& field);
  void CheckDate(const std::string& value, const std::string& field);
  void CheckDecimal(std::string& value, const std::string& field);
  void CheckGpa(GpaSummary& gpa, const std::string& field);
  void CheckTranscript();

  CredentialRecord& record_;
  const ValidationOptions& options_;
  std::vector<RecordError> errors_;
};

// Rejects what must never reach an email header or a PDF (line breaks unless kept, NUL,
// other C0 controls, tabs where a tab makes no sense), then trims and normalises to NFC.
// Kept line breaks become LF whatever the export used (CRLF, CR), with the blanks around
// each one trimmed. Returns false when the value is unusable, so later rules do not pile on.
bool RecordChecker::Clean(std::string& value, const std::string& field, Tabs tabs, Breaks breaks) {
  if (value.find_first_of("\r\n") != std::string::npos) {
    if (breaks == Breaks::kRefused) {
      Add(field, "must not contain a line break");
      return false;
    }
    value = JoinLines(value);
  }
  for (char c : value) {
    if (c == '\n') continue;  // Kept, above.
    unsigned char byte = static_cast<unsigned char>(c);
    if (byte == 0) {
      Add(field, "must not contain a NUL byte");
      return false;
    }
    if ((byte < 0x20 && byte != '\t') || byte == 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(byte));
      Add(field, std::string("must not contain control character ") + hex);
      return false;
    }
  }
  // Surrounding tabs are white space like any other; only an inner tab is refused.
  std::string trimmed(Trim(value));
  if (tabs == Tabs::kRejected && trimmed.find('\t') != std::string::npos) {
    Add(field, "must not contain a tab");
    return false;
  }
  bool ascii = true;
  for (char c : trimmed) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (!ascii) {
    utf8proc_uint8_t* normalised = nullptr;
    utf8proc_ssize_t length =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(trimmed.data()),
                     static_cast<utf8proc_ssize_t>(trimmed.size()), &normalised,
                     static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    if (length < 0) {
      Add(field, "is not valid UTF-8");
      return false;
    }
    trimmed.assign(reinterpret_cast<const char*>(normalised), static_cast<std::size_t>(length));
    std::free(normalised);
  }
  value = std::move(trimmed);
  return true;
}

bool RecordChecker::CheckRequired(const std::string& value, const std::string& field) {
  if (!value.empty()) return true;
  Add(field, "is required");
  return false;
}

void RecordChecker::CheckLength(const std::string& value, const std::string& field,
                                std::size_t limit) {
  std::size_t length = CodePoints(value);
  if (length > limit) {
    Add(field,
        "must be at most " + std::to_string(limit) + " characters, got " + std::to_string(length));
  }
}

void RecordChecker::CheckEmail(std::string& value, const std::string& field) {
  if (!IsValidEmail(value)) {
    Add(field, "'" + value + "' is not a valid email address");
    return;
  }
  // Domains are case-insensitive; the local part belongs to the receiving server.
  std::size_t at = value.rfind('@');
  value = value.substr(0, at + 1) + Lower(std::string_view(value).substr(at + 1));
}

void RecordChecker::CheckDate(const std::string& value, const std::string& field) {
  if (!IsYyyyMmDd(value)) {
    Add(field, "'" + value + "' is not a date in YYYY-MM-DD form");
  } else if (!IsIsoDate(value)) {
    Add(field, "'" + value + "' is not a date");
  }
}

void RecordChecker::CheckDecimal(std::string& value, const std::string& field) {
  if (!Clean(value, field, Tabs::kRejected)) return;
  if (!value.empty() && !IsDecimal(value)) {
    Add(field, "'" + value + "' is not a decimal number");
  }
}

void RecordChecker::CheckGpa(GpaSummary& gpa, const std::string& field) {
  CheckDecimal(gpa.credits_attempted, field + ".credits_attempted");
  CheckDecimal(gpa.credits_earned, field + ".credits_earned");
  CheckDecimal(gpa.quality_points, field + ".quality_points");
  CheckDecimal(gpa.gpa, field + ".gpa");
}

void RecordChecker::CheckTranscript() {
  TranscriptData& transcript = record_.transcript;
  Clean(transcript.institution_name, "transcript.institution_name", Tabs::kAllowed);
  for (std::size_t s = 0; s < transcript.sessions.size(); ++s) {
    AcademicSession& session = transcript.sessions[s];
    std::string prefix = "transcript.sessions[" + std::to_string(s + 1) + "]";
    Clean(session.name, prefix + ".name", Tabs::kAllowed);
    if (Clean(session.start_date, prefix + ".start_date", Tabs::kRejected) &&
        !session.start_date.empty()) {
      CheckDate(session.start_date, prefix + ".start_date");
    }
    if (Clean(session.end_date, prefix + ".end_date", Tabs::kRejected) &&
        !session.end_date.empty()) {
      CheckDate(session.end_date, prefix + ".end_date");
    }
    for (std::size_t c = 0; c < session.courses.size(); ++c) {
      Course& course = session.courses[c];
      std::string course_prefix = prefix + ".courses[" + std::to_string(c + 1) + "]";
      Clean(course.subject, course_prefix + ".subject", Tabs::kAllowed);
      Clean(course.number, course_prefix + ".number", Tabs::kAllowed);
      Clean(course.title, course_prefix + ".title", Tabs::kAllowed);
      CheckDecimal(course.credits, course_prefix + ".credits");
      Clean(course.grade, course_prefix + ".grade", Tabs::kAllowed);
      Clean(course.remark, course_prefix + ".remark", Tabs::kAllowed);
    }
    CheckGpa(session.gpa, prefix + ".gpa");
  }
  for (std::size_t a = 0; a < transcript.awards.size(); ++a) {
    Award& award = transcript.awards[a];
    std::string prefix = "transcript.awards[" + std::to_string(a + 1) + "]";
    Clean(award.title, prefix + ".title", Tabs::kAllowed);
    Clean(award.program, prefix + ".program", Tabs::kAllowed);
    if (Clean(award.date, prefix + ".date", Tabs::kRejected) && !award.date.empty()) {
      CheckDate(award.date, prefix + ".date");
    }
    Clean(award.honors, prefix + ".honors", Tabs::kAllowed);
  }
  CheckGpa(transcript.cumulative, "transcript.cumulative");
}

std::vector<RecordError> RecordChecker::Check() {
  CredentialRecord& r = record_;

  if (Clean(r.student_id, "student_id", Tabs::kRejected) &&
      CheckRequired(r.student_id, "student_id")) {
    bool allowed = true;
    for (char c : r.student_id) {
      allowed = allowed && (IsAlpha(c) || IsDigit(c) || c == '.' || c == '_' || c == '-');
    }
    if (!allowed) {
      Add("student_id",
          "'" + r.student_id + "' may only contain letters A-Z, digits, '.', '_' and '-'");
    } else {
      CheckLength(r.student_id, "student_id", kMaxStudentId);
    }
  }

  if (Clean(r.family_name, "family_name", Tabs::kRejected) &&
      CheckRequired(r.family_name, "family_name")) {
    CheckLength(r.family_name, "family_name", kMaxName);
  }
  if (Clean(r.given_names, "given_names", Tabs::kRejected)) {
    CheckLength(r.given_names, "given_names", kMaxName);
  }

  if (Clean(r.birth_date, "birth_date", Tabs::kRejected) && !r.birth_date.empty()) {
    CheckDate(r.birth_date, "birth_date");
  }

  bool email_ok = Clean(r.email, "email", Tabs::kRejected) &&
                  (options_.require_email ? CheckRequired(r.email, "email") : !r.email.empty());
  if (email_ok) CheckEmail(r.email, "email");
  if (Clean(r.personal_email, "personal_email", Tabs::kRejected) && !r.personal_email.empty()) {
    std::size_t before = errors_.size();
    CheckEmail(r.personal_email, "personal_email");
    if (errors_.size() == before && email_ok && EqualsIgnoreCase(r.personal_email, r.email)) {
      Add("personal_email", "must differ from email");
    }
  }

  if (Clean(r.preferred_locale, "preferred_locale", Tabs::kRejected)) {
    std::string locale = Lower(r.preferred_locale);
    if (locale.empty()) {
      r.preferred_locale = options_.default_locale;
    } else if (locale == "en" || locale == "en-ca") {
      r.preferred_locale = "en";
    } else if (locale == "fr" || locale == "fr-ca") {
      r.preferred_locale = "fr";
    } else {
      Add("preferred_locale",
          "'" + r.preferred_locale + "' is not a supported locale (allowed: en, fr, en-CA, fr-CA)");
    }
  }

  if (Clean(r.credential_type, "credential_type", Tabs::kRejected) &&
      CheckRequired(r.credential_type, "credential_type")) {
    std::string type = Lower(r.credential_type);
    bool known = false;
    for (std::string_view candidate : kCredentialTypes) known = known || type == candidate;
    if (known) {
      r.credential_type = type;
    } else {
      Add("credential_type",
          "'" + r.credential_type + "' is not a credential type (allowed: " +
              JoinAllowed(std::begin(kCredentialTypes), std::end(kCredentialTypes)) + ")");
    }
  }

  if (Clean(r.credential_title, "credential_title", Tabs::kAllowed, Breaks::kKept) &&
      CheckRequired(r.credential_title, "credential_title")) {
    CheckLength(r.credential_title, "credential_title", kMaxTitle);
  }
  if (Clean(r.program, "program", Tabs::kAllowed)) CheckLength(r.program, "program", kMaxTitle);

  if (Clean(r.issued_on, "issued_on", Tabs::kRejected) && CheckRequired(r.issued_on, "issued_on")) {
    std::size_t before = errors_.size();
    CheckDate(r.issued_on, "issued_on");
    if (errors_.size() == before) {
      // ISO dates compare correctly as text.
      if (!options_.today.empty() && r.issued_on > options_.today) {
        Add("issued_on", "'" + r.issued_on + "' is in the future");
      } else if (r.issued_on < kEarliestIssueDate) {
        Add("issued_on", "'" + r.issued_on + "' is before " + std::string(kEarliestIssueDate));
      }
    }
  }

  Clean(r.source_document_id, "source_document_id", Tabs::kRejected);
  CheckTranscript();
  return std::move(errors_);
}

}  // namespace

std::vector<RecordError> ValidateRecord(CredentialRecord& record,
                                        const ValidationOptions& options) {
  return RecordChecker(record, options).Check();
}

bool IsIsoDate(std::string_view text) {
  if (!IsYyyyMmDd(text)) return false;
  auto number = [&](std::size_t at, std::size_t length) {
    int value = 0;
    for (std::size_t i = at; i < at + length; ++i) value = value * 10 + (text[i] - '0');
    return value;
  };
  int year = number(0, 4);
  int month = number(5, 2);
  int day = number(8, 2);
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDaysInMonth[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int days = kDaysInMonth[month - 1] + (month == 2 && leap ? 1 : 0);
  return day <= days;
}

bool IsValidEmail(std::string_view address) {
  if (address.empty() || address.size() > kMaxEmailBytes) return false;
  std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) return false;
  std::string_view local = address.substr(0, at);
  std::string_view domain = address.substr(at + 1);
  if (local.empty() || local.size() > kMaxLocalPartBytes) return false;
  if (!(IsDotAtom(local) || IsQuotedLocalPart(local))) return false;
  return IsDomain(domain);
}

std::string CredentialTypeWord(std::string_view type, std::string_view locale) {
  struct Words {
    std::string_view type, en, fr;
  };
  static constexpr Words kWords[] = {{"transcript", "transcript", "relevé de notes"},
                                     {"diploma", "diploma", "diplôme"},
                                     {"certificate", "certificate", "certificat"},
                                     {"attestation", "attestation", "attestation"}};
  for (const Words& w : kWords) {
    if (w.type == type) return std::string(locale == "fr" ? w.fr : w.en);
  }
  return std::string(type);
}

std::string TitleOnOneLine(std::string_view title) {
  std::string line(title);
  std::replace(line.begin(), line.end(), '\n', ' ');
  return line;
}

}  // namespace credd
