#include "importers/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace credd {

Result<UniqueFd> OpenImportFile(const std::string& path, int borrowed_fd,
                                const std::string& display_name) {
  UniqueFd fd;
  if (borrowed_fd >= 0) {
    fd = UniqueFd(::fcntl(borrowed_fd, F_DUPFD_CLOEXEC, 0));
    if (!fd.valid()) return PosixError(ErrorCode::kIo, "cannot duplicate", errno, display_name);
  } else {
    fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
    if (!fd.valid()) {
      if (errno == ELOOP)
        return MakeError(ErrorCode::kData, "the input is a symbolic link", display_name);
      return PosixError(errno == ENOENT ? ErrorCode::kNoInput : ErrorCode::kIo, "cannot open",
                        errno, display_name);
    }
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return PosixError(ErrorCode::kIo, "cannot stat", errno, display_name);
  if (S_ISDIR(st.st_mode)) return fd;  // A folder of PDFs (credctl import); its reader checks.
  if (!S_ISREG(st.st_mode)) {
    return MakeError(ErrorCode::kData, "not a regular file (a FIFO, device or socket)",
                     display_name);
  }
  // A duplicate shares the file position with the original: start from the beginning.
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) {
    return PosixError(ErrorCode::kIo, "cannot seek", errno, display_name);
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK) != 0) ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

}  // namespace credd
