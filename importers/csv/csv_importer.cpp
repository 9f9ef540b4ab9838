// CsvImporter: a byte loop that decodes and checks the text (UTF-8 or a legacy code page)
// while counting physical lines, feeding libcsv, whose callbacks build one record per row.
#include "importers/csv/csv_importer.h"

#include <csv.h>
#include <fcntl.h>
#include <iconv.h>
#include <unistd.h>
#include <utf8proc.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/posix_error.h"
#include "importers/input_file.h"

namespace credd {
namespace {

using Member = std::string CredentialRecord::*;

// A credd field a CSV column can fill, and whether a file must have that column.
struct CsvField {
  std::string_view name;
  Member member;
  bool required;
};

constexpr std::array<CsvField, 10> kCsvFields = {{
    {"student_id", &CredentialRecord::student_id, true},
    {"family_name", &CredentialRecord::family_name, true},
    {"given_names", &CredentialRecord::given_names, true},
    {"email", &CredentialRecord::email, true},
    {"personal_email", &CredentialRecord::personal_email, false},
    {"preferred_locale", &CredentialRecord::preferred_locale, false},
    {"credential_type", &CredentialRecord::credential_type, true},
    {"credential_title", &CredentialRecord::credential_title, true},
    {"program", &CredentialRecord::program, false},
    {"issued_on", &CredentialRecord::issued_on, true},
}};

// Strict RFC 4180 quoting; a strict error rejects only its row (see Flush).
constexpr unsigned char kParserOptions = CSV_STRICT | CSV_STRICT_FINI;
// libcsv is fed at most this many bytes at a time, which bounds how far a field may grow
// past kMaxFieldBytes before the importer notices and stops buffering it.
constexpr std::size_t kFeedRunBytes = 4096;
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD.

// libcsv trims spaces and tabs around unquoted fields by default; credd hands values over as
// they are (validation trims), so nothing counts as a space.
int NeverSpace(unsigned char) { return 0; }

std::string Hex(unsigned char byte) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02X", static_cast<unsigned>(byte));
  return text;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

// Header cells: surrounding spaces and tabs and a stray byte order mark are not part of
// the name.
std::string TrimHeaderName(std::string_view name) {
  while (name.substr(0, kUtf8Bom.size()) == kUtf8Bom) name.remove_prefix(kUtf8Bom.size());
  while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  return std::string(name);
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// One Read() call: owns the libcsv parser and everything known about the current row.
class CsvReader {
 public:
  CsvReader(const ImportInput& input, const CsvOptions& options, RecordSink& sink)
      : input_(input), options_(options), sink_(sink) {
    csv_init(&parser_, kParserOptions);
    csv_set_space_func(&parser_, NeverSpace);
  }
  ~CsvReader() { csv_free(&parser_); }
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  Status Run();

 private:
  static void FieldCallback(void* data, std::size_t size, void* self) {
    static_cast<CsvReader*>(self)->OnField(static_cast<const char*>(data), size);
  }
  static void RowCallback(int, void* self) { static_cast<CsvReader*>(self)->OnRowEnd(); }

  Status Configure();
  std::size_t Decode(const unsigned char* data, std::size_t size, bool eof);
  void Advance(unsigned char byte);
  void Emit(char byte, int column);
  void BadByte(int column, std::string message);
  void Flush();
  void Finish();
  void OnField(const char* data, std::size_t size);
  void OnRowEnd();
  void OnHeader(std::optional<RecordError> error);
  void OpenRow();
  void SetRowError(int line, int column, std::string field, std::string message);
  std::string FieldLabel(std::size_t index) const;
  void Fail(std::string message, int line, int column = 0);
  std::string Where(int line, int column = 0) const;

  const ImportInput& input_;
  const CsvOptions& options_;
  RecordSink& sink_;
  std::string name_;
  csv_parser parser_{};
  char delimiter_ = ',';

  // Legacy code pages: the UTF-8 text of each byte, built once with iconv.
  bool legacy_ = false;
  std::string encoding_;
  std::array<std::string, 256> legacy_text_;
  std::array<bool, 256> legacy_defined_{};

  // Position of the next raw byte.
  int line_ = 1;
  int column_ = 0;  // Bytes already read on this line.
  bool previous_cr_ = false;

  // Bytes not yet handed to libcsv; they never span a line break (see Emit).
  std::string pending_;
  std::vector<int> pending_columns_;
  int pending_line_ = 0;
  bool last_fed_quote_ = false;

  // The row being read.
  bool row_open_ = false;
  int row_line_ = 0;
  std::size_t field_index_ = 0;
  bool first_field_blank_ = false;
  bool oversize_ = false;  // The current field passed kMaxFieldBytes; its content is dropped.
  std::optional<RecordError> row_error_;
  CredentialRecord record_;

  bool header_done_ = false;
  std::vector<std::string> header_names_;
  std::vector<std::vector<Member>> column_members_;  // Per column: the fields it fills.
  std::vector<std::string> column_labels_;           // Per column: field name for errors.

  bool stop_ = false;
  std::optional<Error> fatal_;
};

Status CsvReader::Configure() {
  if (options_.delimiter.size() == 1) delimiter_ = options_.delimiter[0];
  csv_set_delim(&parser_, static_cast<unsigned char>(delimiter_));

  encoding_ = options_.encoding.empty() ? "utf-8" : options_.encoding;
  if (EqualsIgnoreCase(encoding_, "utf-8")) return Status::Ok();
  const char* iconv_name = nullptr;
  if (EqualsIgnoreCase(encoding_, "windows-1252")) iconv_name = "WINDOWS-1252";
  if (EqualsIgnoreCase(encoding_, "iso-8859-1")) iconv_name = "ISO-8859-1";
  if (iconv_name == nullptr) {
    return MakeError(ErrorCode::kConfig, "unsupported csv.encoding '" + encoding_ + "'", name_);
  }
  iconv_t converter = iconv_open("UTF-8", iconv_name);
  if (converter == reinterpret_cast<iconv_t>(-1)) {
    return PosixError(ErrorCode::kInternal, std::string("iconv cannot convert from ") + iconv_name,
                      errno, name_);
  }
  // Both code pages are single-byte, so one table lookup per byte converts the file and
  // keeps byte offsets exact. iconv refuses the bytes a code page leaves undefined.
  for (int byte = 0; byte < 256; ++byte) {
    char in = static_cast<char>(byte);
    char out[8];
    char* in_ptr = &in;
    char* out_ptr = out;
    std::size_t in_left = 1;
    std::size_t out_left = sizeof out;
    iconv(converter, nullptr, nullptr, nullptr, nullptr);
    if (iconv(converter, &in_ptr, &in_left, &out_ptr, &out_left) != static_cast<std::size_t>(-1)) {
      legacy_defined_[byte] = true;
      legacy_text_[byte].assign(out, sizeof out - out_left);
    }
  }
  iconv_close(converter);
  legacy_ = true;
  return Status::Ok();
}

std::string CsvReader::Where(int line, int column) const {
  std::string where = name_;
  if (line > 0) where += ":" + std::to_string(line);
  if (line > 0 && column > 0) where += ":" + std::to_string(column);
  return where;
}

void CsvReader::Fail(std::string message, int line, int column) {
  if (!fatal_) fatal_ = MakeError(ErrorCode::kData, std::move(message), Where(line, column));
  stop_ = true;
}

Status CsvReader::Run() {
  name_ = input_.display_name.empty() ? input_.path : input_.display_name;
  if (Status configured = Configure(); !configured.ok()) return configured;

  auto opened = OpenImportFile(input_.path, input_.fd, name_);
  if (!opened) return opened.error();
  UniqueFd file = std::move(opened).value();
  const int fd = file.get();
  // Up to three bytes of a UTF-8 sequence cut by the chunk end wait at the front.
  std::vector<unsigned char> buffer(CsvImporter::kChunkBytes + 4);
  std::size_t carried = 0;
  bool first_chunk = true;
  while (!stop_) {
    ssize_t got = ::read(fd, buffer.data() + carried, CsvImporter::kChunkBytes);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      int error = errno;
      return PosixError(ErrorCode::kIo, "cannot read", error, name_);
    }
    std::size_t size = carried + static_cast<std::size_t>(got);
    bool eof = got == 0;
    std::size_t start = 0;
    if (first_chunk && (size >= kUtf8Bom.size() || eof)) {
      first_chunk = false;
      bool bom = std::string_view(reinterpret_cast<const char*>(buffer.data()), size)
                     .starts_with(kUtf8Bom);
      if (bom && legacy_) {
        Fail("the file starts with a UTF-8 byte order mark but csv.encoding is " + encoding_ +
                 "; set csv.encoding to utf-8",
             1);
        break;
      }
      if (bom) {
        start = kUtf8Bom.size();
        column_ = static_cast<int>(kUtf8Bom.size());
      }
    } else if (first_chunk && !eof) {
      carried = size;
      continue;
    }
    std::size_t used = start + Decode(buffer.data() + start, size - start, eof);
    carried = size - used;
    std::memmove(buffer.data(), buffer.data() + used, carried);
    if (eof) break;
  }
  if (!stop_) Finish();
  if (fatal_) return *fatal_;
  if (!header_done_ && !stop_) return MakeError(ErrorCode::kData, "the file is empty", name_);
  return Status::Ok();
}

std::size_t CsvReader::Decode(const unsigned char* data, std::size_t size, bool eof) {
  std::size_t i = 0;
  while (i < size && !stop_) {
    unsigned char byte = data[i];
    int column = column_ + 1;
    if (byte == 0) {
      BadByte(column, "NUL byte at byte " + std::to_string(column) + " of the line");
    } else if (legacy_) {
      if (legacy_defined_[byte]) {
        for (char c : legacy_text_[byte]) Emit(c, column);
      } else {
        BadByte(column, "byte " + Hex(byte) + " is not defined in " + encoding_ + " (at byte " +
                            std::to_string(column) + " of the line)");
      }
    } else if (byte >= 0x80) {
      std::size_t need = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1;
      if (i + need > size && !eof) break;  // The rest of the sequence is in the next chunk.
      utf8proc_int32_t code_point = 0;
      utf8proc_ssize_t length =
          utf8proc_iterate(data + i, static_cast<utf8proc_ssize_t>(size - i), &code_point);
      if (length > 0) {
        for (utf8proc_ssize_t k = 0; k < length; ++k) {
          Emit(static_cast<char>(data[i + static_cast<std::size_t>(k)]), column);
          Advance(data[i + static_cast<std::size_t>(k)]);
        }
        i += static_cast<std::size_t>(length);
        continue;
      }
      // Resynchronise on the next byte: the row is rejected, so only the first bad byte
      // of a row is reported, and what follows it cannot become mojibake.
      BadByte(column, "invalid UTF-8 byte " + Hex(byte) + " at byte " + std::to_string(column) +
                          " of the line");
    } else {
      Emit(static_cast<char>(byte), column);
    }
    Advance(byte);
    ++i;
  }
  return i;
}

// Physical lines end at LF, CRLF or a lone CR, the same terminators libcsv ends rows at.
void CsvReader::Advance(unsigned char byte) {
  if (byte == '\r') {
    ++line_;
    column_ = 0;
  } else if (byte == '\n') {
    if (!previous_cr_) ++line_;
    column_ = 0;
  } else {
    ++column_;
  }
  previous_cr_ = byte == '\r';
}

void CsvReader::OpenRow() {
  if (row_open_) return;
  row_open_ = true;
  row_line_ = line_;
}

void CsvReader::Emit(char byte, int column) {
  // libcsv skips line breaks between rows, so the first other byte after a row ended is
  // where the next row starts. libcsv only ends rows at a line break, which always ends a
  // run fed to it, so row_open_ is up to date here.
  if (byte != '\r' && byte != '\n') OpenRow();
  if (oversize_) {
    // Drop the oversized field's content but keep every byte that can change libcsv's
    // state (quotes, the byte after a quote, delimiters, line breaks), so the rest of the
    // row still parses as it would have.
    bool structural =
        byte == '"' || byte == delimiter_ || byte == '\r' || byte == '\n' || last_fed_quote_;
    if (!structural) return;
  }
  if (pending_.empty()) pending_line_ = line_;
  pending_.push_back(byte);
  pending_columns_.push_back(column);
  if (oversize_ || byte == '\r' || byte == '\n' || pending_.size() >= kFeedRunBytes) Flush();
}

void CsvReader::BadByte(int column, std::string message) {
  OpenRow();
  if (!row_error_) {
    Flush();  // So that field_index_ is the field holding this byte.
    SetRowError(line_, column, FieldLabel(field_index_), std::move(message));
  }
  // A placeholder keeps the row non-empty for libcsv (a row holding only bad bytes must still
  // end as a row); the row is rejected, so nobody sees it.
  for (char c : kReplacement) Emit(c, column);
}

void CsvReader::Flush() {
  std::size_t done = 0;
  while (done < pending_.size() && !stop_) {
    done += csv_parse(&parser_, pending_.data() + done, pending_.size() - done, FieldCallback,
                      RowCallback, this);
    if (done >= pending_.size() || stop_) break;
    if (csv_error(&parser_) != CSV_EPARSE) {
      Fail(std::string("CSV parser: ") + csv_strerror(csv_error(&parser_)), pending_line_);
      break;
    }
    // A strict-mode quote error rejects the row; then recover so that the rest of the row
    // and the file keep their structure. A quote in an unquoted field is taken as a plain
    // byte; text after a closing quote starts a new (unquoted) field, which keeps the
    // following delimiters and line break outside quotes.
    bool stray_quote = pending_[done] == '"';
    SetRowError(pending_line_, pending_columns_[done], FieldLabel(field_index_),
                stray_quote ? "unexpected double quote in an unquoted field (a field containing "
                              "quotes must be quoted, with its quotes doubled)"
                            : "unexpected character after a closing double quote (a quote "
                              "inside a quoted field must be doubled)");
    if (stray_quote) {
      csv_set_opts(&parser_, kParserOptions & ~CSV_STRICT);
      done += csv_parse(&parser_, pending_.data() + done, 1, FieldCallback, RowCallback, this);
      csv_set_opts(&parser_, kParserOptions);
    } else {
      csv_parse(&parser_, &delimiter_, 1, FieldCallback, RowCallback, this);
    }
  }
  if (!pending_.empty()) last_fed_quote_ = pending_.back() == '"';
  pending_.clear();
  pending_columns_.clear();
  // While a quote may still be pending in libcsv's buffer the field holds one byte more.
  if (!stop_ && !oversize_ && parser_.entry_pos > CsvImporter::kMaxFieldBytes + 1) {
    oversize_ = true;
    SetRowError(row_line_, 0, FieldLabel(field_index_),
                "field is longer than " + std::to_string(CsvImporter::kMaxFieldBytes) + " bytes");
  }
}

void CsvReader::Finish() {
  Flush();
  if (stop_) return;
  if (csv_fini(&parser_, FieldCallback, RowCallback, this) == 0) return;
  // csv_fini refuses a quoted field that never closed, and drops its row: report it here.
  SetRowError(row_line_, 0, FieldLabel(field_index_),
              "a quoted field is not closed before the end of the file");
  if (!header_done_) {
    Fail("header: " + row_error_->message, row_line_);
  } else {
    sink_.OnError(*row_error_);
  }
}

void CsvReader::SetRowError(int line, int column, std::string field, std::string message) {
  if (row_error_) return;  // The first problem of a row is the one worth reading.
  row_error_ = RecordError{line, column, std::move(field), std::move(message)};
}

std::string CsvReader::FieldLabel(std::size_t index) const {
  if (!header_done_ || index >= column_labels_.size()) return "";
  return column_labels_[index];
}

void CsvReader::OnField(const char* data, std::size_t size) {
  if (stop_) return;
  std::string_view value(data != nullptr ? data : "", data != nullptr ? size : 0);
  if (value.size() > CsvImporter::kMaxFieldBytes) {
    SetRowError(row_line_, 0, FieldLabel(field_index_),
                "field is longer than " + std::to_string(CsvImporter::kMaxFieldBytes) + " bytes");
  }
  oversize_ = false;
  if (field_index_ == 0) {
    first_field_blank_ = value.find_first_not_of(" \t") == std::string_view::npos;
  }
  if (!header_done_) {
    if (header_names_.size() >= CsvImporter::kMaxColumns) {
      Fail("the header has more than " + std::to_string(CsvImporter::kMaxColumns) + " columns",
           row_line_);
      return;
    }
    header_names_.emplace_back(value);
  } else if (field_index_ < column_members_.size() && !row_error_) {
    for (Member member : column_members_[field_index_]) record_.*member = std::string(value);
  }
  ++field_index_;
}

void CsvReader::OnRowEnd() {
  if (stop_) return;
  std::size_t count = field_index_;
  std::optional<RecordError> error = std::move(row_error_);
  CredentialRecord record = std::move(record_);
  row_open_ = false;
  field_index_ = 0;
  oversize_ = false;
  row_error_.reset();
  record_ = CredentialRecord{};

  // A line of spaces is as blank as an empty one.
  if (!error && count == 1 && first_field_blank_) {
    header_names_.clear();
    return;
  }
  if (!header_done_) {
    OnHeader(std::move(error));
    header_names_.clear();
    return;
  }
  if (error) {
    if (!sink_.OnError(std::move(*error))) stop_ = true;
    return;
  }
  if (count != column_members_.size()) {
    RecordError wrong_count{row_line_, 0, "",
                            "expected " + std::to_string(column_members_.size()) +
                                " fields, found " + std::to_string(count)};
    if (!sink_.OnError(std::move(wrong_count))) stop_ = true;
    return;
  }
  record.line = row_line_;
  if (!sink_.OnRecord(std::move(record))) stop_ = true;
}

void CsvReader::OnHeader(std::optional<RecordError> error) {
  if (error) {
    Fail("header: " + error->message, error->line, error->column);
    return;
  }
  std::vector<std::string> names;
  for (const std::string& raw : header_names_) names.push_back(TrimHeaderName(raw));
  // Header names match case-insensitively (SIS exports disagree on case), so two names
  // differing only in case are the same column twice.
  for (std::size_t i = 0; i < names.size(); ++i) {
    for (std::size_t j = i + 1; j < names.size(); ++j) {
      if (!names[i].empty() && EqualsIgnoreCase(names[i], names[j])) {
        Fail("the header names column '" + names[j] + "' twice (columns " + std::to_string(i + 1) +
                 " and " + std::to_string(j + 1) + ")",
             row_line_);
        return;
      }
    }
  }

  const CsvOptions& csv = options_;
  column_members_.assign(names.size(), {});
  column_labels_.assign(names.size(), "");
  std::vector<std::string> missing;
  for (const CsvField& field : kCsvFields) {
    auto mapped = csv.columns.find(std::string(field.name));
    std::string header = mapped != csv.columns.end() ? mapped->second : std::string(field.name);
    bool found = false;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (EqualsIgnoreCase(names[i], TrimHeaderName(header))) {
        column_members_[i].push_back(field.member);
        if (column_labels_[i].empty()) column_labels_[i] = std::string(field.name);
        found = true;
        break;
      }
    }
    if (!found && field.required) {
      missing.push_back(std::string(field.name) + " (looked for a column named '" + header + "')");
    }
  }
  if (!missing.empty()) {
    Fail(std::string(missing.size() == 1 ? "missing required column: "
                                         : "missing required columns: ") +
             Join(missing),
         row_line_);
    return;
  }
  std::vector<std::string> unused;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (column_members_[i].empty()) unused.push_back("'" + names[i] + "'");
  }
  if (!unused.empty()) {
    sink_.OnWarning(
        RecordError{row_line_, 0, "", "ignoring columns credd does not use: " + Join(unused)});
  }
  header_done_ = true;
}

}  // namespace

Status CsvImporter::Read(const ImportInput& input, RecordSink& sink) {
  CsvReader reader(input, options_, sink);
  return reader.Run();
}

}  // namespace credd
