// Chooses the container kind for an input path, and the helpers both kinds share.
#include "importers/pdf_manifest/pdf_container.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "importers/input_file.h"

namespace credd::pdf_manifest {

std::string SizeOverLimit(std::uint64_t size, std::uint64_t limit) {
  return std::to_string(size) + " bytes; the limit is " + std::to_string(limit);
}

Result<std::unique_ptr<PdfContainer>> OpenContainer(const std::string& path, int borrowed_fd,
                                                    const std::string& display_name,
                                                    const PdfManifestLimits& limits) {
  auto opened = OpenImportFile(path, borrowed_fd, display_name);
  if (!opened) return opened.error();
  int fd = opened->Release();
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    Error error = PosixError(ErrorCode::kIo, "cannot stat", errno);
    error.where = display_name;
    close(fd);
    return error;
  }
  if (S_ISDIR(st.st_mode)) return OpenFolder(fd, display_name, limits);
  if (S_ISREG(st.st_mode)) return OpenZip(fd, display_name, limits);
  close(fd);
  return MakeError(ErrorCode::kData, "neither a zip file nor a folder", display_name);
}

}  // namespace credd::pdf_manifest
