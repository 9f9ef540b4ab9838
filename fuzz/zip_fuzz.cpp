// Fuzz target: the pdf-manifest importer (importers/pdf_manifest) over arbitrary bytes as
// the dropped .zip: libzip's reader behind credd's entry checks, then manifest and PDFs.
// Limits are small so the size, count and bomb checks are reachable.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_support.h"
#include "fuzz/importer_sink.h"
#include "importers/pdf_manifest/pdf_manifest_importer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace credd;
  PdfManifestLimits limits;
  limits.max_pdf_bytes = 1 << 20;
  limits.max_manifest_bytes = 64 << 10;
  limits.max_entries = 64;
  limits.max_total_bytes = 4 << 20;
  limits.bomb_min_bytes = 256 << 10;
  const std::string& path = fuzz::WriteScratchFile("input.zip", data, size);
  PdfManifestImporter importer(limits);
  fuzz::CheckingSink sink;
  const Status status = importer.Read(ImportInput{path, "fuzz.zip"}, sink);
  fuzz::CheckStatus(status, "fuzz.zip");
  return 0;
}
