// Reads the manifest first (it is small), then one PDF per row, so every file-level
// problem is known before the sink sees anything and memory holds one PDF at a time.
#include "importers/pdf_manifest/pdf_manifest_importer.h"

#include <map>
#include <set>

#include "importers/pdf_manifest/entry_name.h"
#include "importers/pdf_manifest/manifest.h"
#include "importers/pdf_manifest/pdf_check.h"
#include "importers/pdf_manifest/pdf_container.h"

namespace credd {
namespace {

using pdf_manifest::NameFault;
using pdf_manifest::QuoteName;

// Why a manifest `file` value cannot be used, or "".
std::string FileNameProblem(const std::string& name, const pdf_manifest::PdfContainer& container) {
  std::string quoted = QuoteName(name);
  switch (pdf_manifest::CheckEntryName(name)) {
    case NameFault::kNone:
      return container.NameProblem(name);
    case NameFault::kEmpty:
      return "the file column is empty";
    case NameFault::kAbsolute:
      return quoted + " is an absolute path";
    case NameFault::kParent:
      return quoted + " points outside the " + std::string(container.Kind());
    case NameFault::kBackslash:
      return quoted + " contains a backslash";
    case NameFault::kControl:
      return quoted + " contains a control character";
  }
  return {};
}

RecordError RowError(int line, std::string field, std::string message) {
  return RecordError{line, 0, std::move(field), std::move(message)};
}

}  // namespace

Status PdfManifestImporter::Read(const ImportInput& input, RecordSink& sink) {
  const std::string& display_name = input.display_name.empty() ? input.path : input.display_name;
  auto container = pdf_manifest::OpenContainer(input.path, input.fd, display_name, limits_);
  if (!container.ok()) return container.error();
  Result<std::string> text = (*container)->ReadManifest();
  if (!text.ok()) return text.error();
  Result<pdf_manifest::Manifest> manifest = pdf_manifest::ParseManifest(*text, display_name);
  if (!manifest.ok()) return manifest.error();
  text = std::string();  // The rows hold what is needed from here on.
  Result<pdf_manifest::ManifestColumns> columns =
      pdf_manifest::MapColumns(manifest->header, display_name);
  if (!columns.ok()) return columns.error();

  for (const std::string& name : columns->unknown) {
    sink.OnWarning(RowError(1, "", "manifest.csv column '" + name + "' is not read by credd"));
  }
  const size_t width = manifest->header.size();
  std::set<std::string> named;
  for (const pdf_manifest::ManifestRow& row : manifest->rows) {
    if (row.fields.size() == width) named.insert(row.fields[static_cast<size_t>(columns->file)]);
  }
  for (const std::string& name : (*container)->PdfNames()) {
    if (named.count(name) == 0) {
      sink.OnWarning(RowError(0, "file",
                              QuoteName(name) + " is in the " + std::string((*container)->Kind()) +
                                  " but no manifest row names it"));
    }
  }

  std::map<std::string, int> first_line;  // Each usable name, with the row that named it.
  for (const pdf_manifest::ManifestRow& row : manifest->rows) {
    if (row.fields.size() != width) {
      if (!sink.OnError(RowError(row.line, "",
                                 "expected " + std::to_string(width) +
                                     " fields as in the header, found " +
                                     std::to_string(row.fields.size())))) {
        return Status::Ok();
      }
      continue;
    }
    CredentialRecord record = pdf_manifest::RecordFromRow(row, *columns);
    const std::string& name = record.pdf_file;
    std::string problem = FileNameProblem(name, **container);
    if (problem.empty()) {
      auto [first, inserted] = first_line.emplace(name, row.line);
      if (!inserted) {
        problem = QuoteName(name) + " is already named on line " + std::to_string(first->second);
      }
    }
    Result<std::string> bytes = problem.empty() ? (*container)->ReadPdf(name) : std::string();
    if (problem.empty() && !bytes.ok()) problem = bytes.error().message;
    if (problem.empty()) {
      Result<pdf_manifest::PdfCheck> check = pdf_manifest::CheckPdf(*bytes, name);
      if (!check.ok()) {
        problem = check.error().message;
      } else if (!check->warnings.empty()) {
        // A signature is an incremental update pointing back at the file's own
        // cross-reference data; on a damaged file every verifier would reject it. So the
        // file is refused here, where staff see it, not left unsignable.
        problem = QuoteName(name) +
                  " is damaged and cannot be signed as it is (qpdf: " + check->warnings +
                  "); export it again from the SIS";
      }
    }
    if (!problem.empty()) {
      if (!sink.OnError(RowError(row.line, "file", std::move(problem)))) return Status::Ok();
      continue;
    }
    record.pdf_bytes = std::move(*bytes);
    if (!sink.OnRecord(std::move(record))) return Status::Ok();
  }
  return Status::Ok();
}

}  // namespace credd
