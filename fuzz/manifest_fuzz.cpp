// Fuzz target: the pdf-manifest importer's manifest.csv parser and column mapping
// (importers/pdf_manifest/manifest.cpp) over arbitrary text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "importers/pdf_manifest/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace credd;
  using namespace credd::pdf_manifest;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<Manifest> manifest = ParseManifest(text, "manifest.csv");
  if (!manifest) {
    fuzz::Check(manifest.error().where.rfind("manifest.csv", 0) == 0,
                "a manifest error that does not name manifest.csv");
    return 0;
  }
  for (const ManifestRow& row : manifest->rows) fuzz::Check(row.line >= 2, "a row above line 2");
  Result<ManifestColumns> columns = MapColumns(manifest->header, "manifest.csv");
  if (!columns) return 0;
  for (const ManifestRow& row : manifest->rows) {
    // The importer only maps rows whose field count matches the header.
    if (row.fields.size() != manifest->header.size()) continue;
    CredentialRecord record = RecordFromRow(row, *columns);
    fuzz::Check(record.line == row.line, "a record on the wrong line");
  }
  return 0;
}
