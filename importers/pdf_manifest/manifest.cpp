// manifest.csv parsing on top of libcsv, plus the header-to-field mapping.
#include "importers/pdf_manifest/manifest.h"

#include <csv.h>

#include <algorithm>
#include <array>

namespace credd::pdf_manifest {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

// Offset of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlongs,
// no surrogates, nothing above U+10FFFF), or npos. Written here because glibc's iconv
// accepts code points above U+10FFFF, and one loop is simpler than another dependency.
size_t FirstInvalidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) low = 0xA0;   // Overlong.
      if (c == 0xED) high = 0x9F;  // Surrogates.
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) low = 0x90;   // Overlong.
      if (c == 0xF4) high = 0x8F;  // Above U+10FFFF.
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    for (size_t k = 1; k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if (next < (k == 1 ? low : 0x80) || next > (k == 1 ? high : 0xBF)) return i;
    }
    i += length;
  }
  return std::string_view::npos;
}

// True when the byte at i ends a line: LF, CRLF (counted at its LF) or a bare CR, which
// libcsv also takes as the end of a row (old Mac exports), so a row's line never repeats.
bool EndsLine(std::string_view text, size_t i) {
  return text[i] == '\n' || (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'));
}

int LineAt(std::string_view text, size_t offset) {
  int line = 1;
  for (size_t i = 0; i < offset; ++i) line += EndsLine(text, i) ? 1 : 0;
  return line;
}

// libcsv trims spaces around unquoted fields by default; manifest values are copied as
// written, so nothing counts as a space.
int NoSpace(unsigned char) { return 0; }

// The state libcsv's callbacks fill in.
struct ParseState {
  Manifest manifest;
  std::vector<std::string> fields;
  int row_line = 0;
  bool have_header = false;
};

void OnField(void* data, size_t length, void* state_ptr) {
  auto* state = static_cast<ParseState*>(state_ptr);
  state->fields.emplace_back(data == nullptr ? "" : std::string(static_cast<char*>(data), length));
}

void OnRowEnd(int, void* state_ptr) {
  auto* state = static_cast<ParseState*>(state_ptr);
  if (!state->have_header) {
    for (std::string& name : state->fields) {
      size_t first = name.find_first_not_of(" \t");
      size_t last = name.find_last_not_of(" \t");
      name = first == std::string::npos ? "" : name.substr(first, last - first + 1);
    }
    state->manifest.header = std::move(state->fields);
    state->have_header = true;
  } else {
    state->manifest.rows.push_back(ManifestRow{state->row_line, std::move(state->fields)});
  }
  state->fields.clear();
}

// libcsv's parser state when no row has begun (ROW_NOT_BEGUN in libcsv.c). It is the only
// way to learn which line a row starts on, since the callbacks carry no position.
constexpr int kRowNotBegun = 0;

// Owns a csv_parser so every return path frees it.
class CsvParser {
 public:
  CsvParser() { ok_ = csv_init(&parser_, CSV_STRICT | CSV_STRICT_FINI) == 0; }
  ~CsvParser() { csv_free(&parser_); }
  CsvParser(const CsvParser&) = delete;
  CsvParser& operator=(const CsvParser&) = delete;
  bool ok() const { return ok_; }
  csv_parser* get() { return &parser_; }

 private:
  csv_parser parser_{};
  bool ok_ = false;
};

}  // namespace

Result<Manifest> ParseManifest(std::string_view text, const std::string& display_name) {
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  if (size_t bad = FirstInvalidUtf8(text); bad != std::string_view::npos) {
    return MakeError(ErrorCode::kData, "manifest.csv is not valid UTF-8",
                     display_name + ":" + std::to_string(LineAt(text, bad)));
  }
  CsvParser parser;
  if (!parser.ok()) return MakeError(ErrorCode::kInternal, "cannot initialise libcsv");
  csv_set_space_func(parser.get(), NoSpace);
  ParseState state;
  int line = 1;
  // One byte per call, so the row's first line is known when the parser leaves its
  // "no row begun" state. Manifests are small; the cost does not matter.
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    bool idle = parser.get()->pstate == kRowNotBegun;
    if (csv_parse(parser.get(), &c, 1, OnField, OnRowEnd, &state) != 1) {
      return MakeError(ErrorCode::kData,
                       std::string("manifest.csv: malformed CSV quoting (") +
                           csv_strerror(csv_error(parser.get())) + ")",
                       display_name + ":" + std::to_string(line));
    }
    if (idle && parser.get()->pstate != kRowNotBegun) state.row_line = line;
    if (EndsLine(text, i)) ++line;
  }
  if (csv_fini(parser.get(), OnField, OnRowEnd, &state) != 0) {
    return MakeError(ErrorCode::kData, "manifest.csv: a quoted field is not closed",
                     display_name + ":" + std::to_string(state.row_line));
  }
  if (!state.have_header) {
    return MakeError(ErrorCode::kData, "manifest.csv has no header row", display_name + ":1");
  }
  return std::move(state.manifest);
}

Result<ManifestColumns> MapColumns(const std::vector<std::string>& header,
                                   const std::string& display_name) {
  ManifestColumns columns;
  struct Column {
    std::string_view name;
    int ManifestColumns::*index;
    bool required;
  };
  const std::array<Column, 11> kColumns = {{
      {"file", &ManifestColumns::file, true},
      {"student_id", &ManifestColumns::student_id, true},
      {"family_name", &ManifestColumns::family_name, true},
      {"given_names", &ManifestColumns::given_names, true},
      {"email", &ManifestColumns::email, true},
      {"personal_email", &ManifestColumns::personal_email, false},
      {"preferred_locale", &ManifestColumns::preferred_locale, false},
      {"credential_type", &ManifestColumns::credential_type, true},
      {"credential_title", &ManifestColumns::credential_title, true},
      {"program", &ManifestColumns::program, false},
      {"issued_on", &ManifestColumns::issued_on, true},
  }};
  const std::string where = display_name + ":1";
  for (size_t i = 0; i < header.size(); ++i) {
    auto known = std::find_if(kColumns.begin(), kColumns.end(),
                              [&](const Column& column) { return column.name == header[i]; });
    if (known == kColumns.end()) {
      columns.unknown.push_back(header[i]);
      continue;
    }
    int& index = columns.*(known->index);
    if (index >= 0) {
      return MakeError(ErrorCode::kData, "manifest.csv names column '" + header[i] + "' twice",
                       where);
    }
    index = static_cast<int>(i);
  }
  std::string missing;
  for (const Column& column : kColumns) {
    if (column.required && columns.*(column.index) < 0) {
      missing += (missing.empty() ? "" : ", ") + std::string(column.name);
    }
  }
  if (!missing.empty()) {
    return MakeError(ErrorCode::kData, "manifest.csv lacks required columns: " + missing, where);
  }
  return columns;
}

CredentialRecord RecordFromRow(const ManifestRow& row, const ManifestColumns& columns) {
  auto field = [&](int index) {
    return index < 0 ? std::string() : row.fields[static_cast<size_t>(index)];
  };
  CredentialRecord record;
  record.line = row.line;
  record.pdf_file = field(columns.file);
  record.student_id = field(columns.student_id);
  record.family_name = field(columns.family_name);
  record.given_names = field(columns.given_names);
  record.email = field(columns.email);
  record.personal_email = field(columns.personal_email);
  record.preferred_locale = field(columns.preferred_locale);
  record.credential_type = field(columns.credential_type);
  record.credential_title = field(columns.credential_title);
  record.program = field(columns.program);
  record.issued_on = field(columns.issued_on);
  return record;
}

}  // namespace credd::pdf_manifest
