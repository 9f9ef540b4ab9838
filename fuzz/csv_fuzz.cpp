// Fuzz target: the CSV importer (importers/csv) over arbitrary file bytes. The first byte
// picks the dialect (delimiter, legacy encoding, a column mapping) so every code path of
// CsvReader::Configure is reached; the rest is the file.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_support.h"
#include "fuzz/importer_sink.h"
#include "importers/csv/csv_importer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace credd;
  if (size == 0) return 0;
  CsvOptions csv;
  const std::uint8_t selector = data[0];
  static const char* const kDelimiters[] = {",", ";", "\t", "|"};
  static const char* const kEncodings[] = {"utf-8", "windows-1252", "iso-8859-1", "utf-8"};
  csv.delimiter = kDelimiters[selector & 3];
  csv.encoding = kEncodings[(selector >> 2) & 3];
  if ((selector & 0x10) != 0) {
    csv.columns = {{"student_id", "ID"},
                   {"family_name", "Last"},
                   {"given_names", "First"},
                   {"email", "Email"}};
  }
  const std::string& path = fuzz::WriteScratchFile("input.csv", data + 1, size - 1);
  CsvImporter importer(csv);
  fuzz::CheckingSink sink;
  const Status status = importer.Read(ImportInput{path, "fuzz.csv"}, sink);
  fuzz::CheckStatus(status, "fuzz.csv");
  return 0;
}
