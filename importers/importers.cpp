#include <algorithm>
#include <cctype>
#include <optional>

#include "importers/csv/csv_importer.h"
#include "importers/importer.h"
#include "importers/pdf_manifest/pdf_manifest_importer.h"
#include "importers/pesc/pesc_importer.h"

namespace credd {

const std::vector<ImporterEntry>& ImporterTable() {
  static const std::vector<ImporterEntry> kTable = {
      {Format::kCsv, "SIS extract as CSV (RFC 4180), one credential per row",
       [](const ImportOptions& options) {
         return std::unique_ptr<Importer>(new CsvImporter(options.csv));
       }},
      {Format::kPesc, "PESC College Transcript XML 1.3-1.9, bare or in an AcademicRecordBatch",
       [](const ImportOptions&) { return std::unique_ptr<Importer>(new PescImporter()); }},
      {Format::kPdfManifest, "a .zip (or folder) of SIS-rendered PDFs with manifest.csv",
       [](const ImportOptions&) { return std::unique_ptr<Importer>(new PdfManifestImporter()); }},
  };
  return kTable;
}

const ImporterEntry& FindImporter(Format format) {
  for (const ImporterEntry& entry : ImporterTable()) {
    if (entry.format == format) return entry;
  }
  return ImporterTable().front();  // Unreachable: the table has every format (importers_test).
}

Result<Format> ParseFormat(std::string_view name) {
  if (std::optional<Format> format = kFormats.Parse(name)) return *format;
  return MakeError(ErrorCode::kUsage,
                   "unknown format '" + std::string(name) + "' (known: " + kFormats.List() + ")");
}

Result<Format> FormatForFileName(std::string_view file_name) {
  auto dot = file_name.rfind('.');
  std::string ext = dot == std::string_view::npos ? "" : std::string(file_name.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == "csv" || ext == "txt") return Format::kCsv;
  if (ext == "xml") return Format::kPesc;
  if (ext == "zip") return Format::kPdfManifest;
  return MakeError(ErrorCode::kData,
                   "cannot tell the format from the file name: expected .csv, .xml or .zip",
                   std::string(file_name));
}

}  // namespace credd
