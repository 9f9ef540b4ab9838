// Chooses the container kind for an input path, and the helpers both kinds share.
#include "importers/pdf_manifest/pdf_container.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace credd::pdf_manifest {

Error PosixError(ErrorCode code, const std::string& context, int error_number) {
  return MakeError(code, context + ": " + std::generic_category().message(error_number));
}

std::string SizeOverLimit(std::uint64_t size, std::uint64_t limit) {
  return std::to_string(size) + " bytes; the limit is " + std::to_string(limit);
}

Result<std::unique_ptr<PdfContainer>> OpenContainer(const std::string& path,
                                                    const std::string& display_name,
                                                    const PdfManifestLimits& limits) {
  // O_NONBLOCK keeps a FIFO from blocking the open; fstat then refuses it.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    int error_number = errno;
    if (error_number == ELOOP) {
      return MakeError(ErrorCode::kData, "the input is a symbolic link", display_name);
    }
    Error error = PosixError(error_number == ENOENT ? ErrorCode::kNoInput : ErrorCode::kIo,
                             "cannot open", error_number);
    error.where = display_name;
    return error;
  }
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
