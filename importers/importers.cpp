#include <algorithm>
#include <cctype>

#include "importers/csv/csv_importer.h"
#include "importers/importer.h"
#include "importers/pdf_manifest/pdf_manifest_importer.h"
#include "importers/pesc/pesc_importer.h"

namespace credd {

const std::vector<ImporterEntry>& ImporterTable() {
  static const std::vector<ImporterEntry> kTable = {
      {"csv", "SIS extract as CSV (RFC 4180), one credential per row",
       [](const ImportOptions& options) {
         return std::unique_ptr<Importer>(new CsvImporter(options.csv));
       }},
      {"pesc", "PESC College Transcript XML 1.3-1.9, bare or in an AcademicRecordBatch",
       [](const ImportOptions&) { return std::unique_ptr<Importer>(new PescImporter()); }},
      {"pdf-manifest", "a .zip (or folder) of SIS-rendered PDFs with manifest.csv",
       [](const ImportOptions&) { return std::unique_ptr<Importer>(new PdfManifestImporter()); }},
  };
  return kTable;
}

Result<const ImporterEntry*> FindImporter(std::string_view format) {
  std::string known;
  for (const ImporterEntry& entry : ImporterTable()) {
    if (entry.name == format) return &entry;
    known += (known.empty() ? "" : ", ") + std::string(entry.name);
  }
  return MakeError(ErrorCode::kUsage,
                   "unknown format '" + std::string(format) + "' (known: " + known + ")");
}

Result<std::string> FormatForFileName(std::string_view file_name) {
  auto dot = file_name.rfind('.');
  std::string ext = dot == std::string_view::npos ? "" : std::string(file_name.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == "csv" || ext == "txt") return std::string("csv");
  if (ext == "xml") return std::string("pesc");
  if (ext == "zip") return std::string("pdf-manifest");
  return MakeError(ErrorCode::kData,
                   "cannot tell the format from the file name: expected .csv, .xml or .zip",
                   std::string(file_name));
}

}  // namespace credd
