// Reads manifest.csv (the index of a pdf-manifest input) with libcsv: a header row, then
// one row per PDF. Only syntax and columns are checked here; the importer checks the PDFs.
// Thread contract: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "records/record.h"

namespace credd::pdf_manifest {

// One data row: its fields in file order, and the physical line it starts on.
struct ManifestRow {
  int line = 0;
  std::vector<std::string> fields;
};

struct Manifest {
  std::vector<std::string> header;  // Column names as written (surrounding spaces removed).
  std::vector<ManifestRow> rows;    // Data rows; blank lines are skipped.
};

// Parses the whole manifest (UTF-8, optional BOM, RFC 4180 quoting, LF or CRLF). Errors
// are kData with where "<display_name>:<line>": invalid UTF-8, malformed quoting, no
// header row. Field values are kept exactly as written.
Result<Manifest> ParseManifest(std::string_view text, const std::string& display_name);

// Where each credd field sits in a row; -1 for an optional column that is absent.
struct ManifestColumns {
  int file = -1;
  int student_id = -1;
  int family_name = -1;
  int given_names = -1;
  int email = -1;
  int personal_email = -1;
  int preferred_locale = -1;
  int credential_type = -1;
  int credential_title = -1;
  int program = -1;
  int issued_on = -1;
  std::vector<std::string> unknown;  // Header names credd does not read (warned about).
};

// Maps the header. kData at "<display_name>:1" when required columns are missing (all of
// them named) or a column appears twice.
Result<ManifestColumns> MapColumns(const std::vector<std::string>& header,
                                   const std::string& display_name);

// The record for one row whose field count matches the header; pdf_bytes stays empty.
CredentialRecord RecordFromRow(const ManifestRow& row, const ManifestColumns& columns);

}  // namespace credd::pdf_manifest
