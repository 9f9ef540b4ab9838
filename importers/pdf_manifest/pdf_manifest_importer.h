// The pdf-manifest importer: a .zip or a folder of PDFs the SIS already rendered, plus
// manifest.csv naming each PDF's student and credential. Each row becomes a record carrying
// the PDF's exact bytes; only one PDF is in memory at a time.
// Thread contract: an object is used by one thread at a time (see Importer).
#pragma once

#include "importers/importer.h"
#include "importers/pdf_manifest/pdf_manifest_limits.h"

namespace credd {

class PdfManifestImporter : public Importer {
 public:
  PdfManifestImporter() = default;
  // Tests use small limits to reach them with small fixtures.
  explicit PdfManifestImporter(const PdfManifestLimits& limits) : limits_(limits) {}

  // File-level errors (kData, where "<display_name>[:line]"): not a zip, an unsafe zip
  // entry (escaping name, symlink, encryption, too many, too large, zip bomb), manifest.csv
  // missing, not UTF-8, malformed or lacking required columns. All of these are found
  // before the first record is handed over. Row errors (field "file" unless the row's
  // shape is wrong): a PDF missing, unsafe, named twice, too large, not a PDF, encrypted.
  Status Read(const ImportInput& input, RecordSink& sink) override;

 private:
  PdfManifestLimits limits_;
};

}  // namespace credd
