// Where a pdf-manifest input's files come from: a zip archive (read in memory with libzip,
// never extracted) or a folder (regular files directly in it, symlinks never followed).
// Thread contract: one thread at a time, like the importer that owns it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"  // PosixError: errno as an Error.
#include "importers/pdf_manifest/pdf_manifest_limits.h"

namespace credd::pdf_manifest {

class PdfContainer {
 public:
  virtual ~PdfContainer() = default;

  // manifest.csv at the top level. kData with where = display name when it is missing or
  // unusable; nothing has been handed to the sink yet.
  virtual Result<std::string> ReadManifest() = 0;

  // Names of every PDF present, for warning about those no row names.
  virtual std::vector<std::string> PdfNames() = 0;

  // Why a manifest name that passed CheckEntryName still cannot be used here, or "".
  virtual std::string NameProblem(std::string_view name) const = 0;

  // The exact bytes of one PDF, at most max_pdf_bytes. Errors carry a message for the
  // row ("'a.pdf' is not in the archive") and no where.
  virtual Result<std::string> ReadPdf(const std::string& name) = 0;

  // "archive" or "folder", for messages.
  virtual std::string_view Kind() const = 0;
};

// Opens `path` without following a symlink at its last component: a folder becomes a
// folder container, a regular file must be a zip whose entries pass every safety check
// (names, symlinks, encryption, counts, sizes, compression ratio) before this returns.
// Errors are file-level, with where = display_name.
Result<std::unique_ptr<PdfContainer>> OpenContainer(const std::string& path, int borrowed_fd,
                                                    const std::string& display_name,
                                                    const PdfManifestLimits& limits);

// Internal to this folder: the two kinds, each taking ownership of an open descriptor.
Result<std::unique_ptr<PdfContainer>> OpenZip(int fd, const std::string& display_name,
                                              const PdfManifestLimits& limits);
Result<std::unique_ptr<PdfContainer>> OpenFolder(int fd, const std::string& display_name,
                                                 const PdfManifestLimits& limits);

// "N bytes; the limit is M", for size messages.
std::string SizeOverLimit(std::uint64_t size, std::uint64_t limit);

}  // namespace credd::pdf_manifest
