// A fault-injection shim for the end-to-end tests (LD_PRELOAD): renameat2 with
// RENAME_NOREPLACE fails with EINVAL, as it does on NFS and CIFS, so the tests can check
// that credd's fallback still never replaces a file. Every other call goes through.
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

extern "C" int renameat2(int old_dir, const char* old_path, int new_dir, const char* new_path,
                         unsigned int flags) {
  constexpr unsigned int kNoReplace = 1u << 0;  // RENAME_NOREPLACE
  if ((flags & kNoReplace) != 0) {
    errno = EINVAL;
    return -1;
  }
  return static_cast<int>(syscall(SYS_renameat2, old_dir, old_path, new_dir, new_path, flags));
}
