// Fuzz target: the PESC importer (importers/pesc) over arbitrary file bytes, with small
// depth, text and element limits so those checks are reached by small inputs too (the file
// and token caps need inputs larger than libFuzzer's; the unit tests cover them).
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_support.h"
#include "fuzz/importer_sink.h"
#include "importers/pesc/pesc_importer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace credd;
  const std::string& path = fuzz::WriteScratchFile("input.xml", data, size);
  PescLimits limits;
  limits.max_depth = 64;
  limits.max_text_bytes = 4096;
  limits.max_elements_per_transcript = 5000;
  PescImporter importer(limits);
  fuzz::CheckingSink sink;
  const Status status = importer.Read(ImportInput{path, "fuzz.xml"}, sink);
  fuzz::CheckStatus(status, "fuzz.xml");
  return 0;
}
