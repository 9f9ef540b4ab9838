#include "daemon/watch/claim.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace credd {
namespace {

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// A name safe to show and to store: control characters become '_'.
std::string SafeName(std::string_view name) {
  std::string out;
  for (unsigned char c : name) out += (c < 0x20 || c == 0x7f) ? '_' : static_cast<char>(c);
  return out;
}

// "x.csv" -> "x~2.csv"; "archive" -> "archive~2".
std::string WithSuffix(const std::string& name, int n) {
  auto dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0) return name + "~" + std::to_string(n);
  return name.substr(0, dot) + "~" + std::to_string(n) + name.substr(dot);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

bool IsIgnoredName(std::string_view name) {
  return name.empty() || name[0] == '.' || EndsWith(name, ".part") || EndsWith(name, ".tmp");
}

bool HasControlCharacters(std::string_view name) {
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

Result<std::string> MoveBetween(const std::string& institution_dir, const std::string& from,
                                const std::string& name, const std::string& to,
                                const std::string& preferred_name) {
  Fd from_dir(::open((institution_dir + "/" + from).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  Fd to_dir(::open((institution_dir + "/" + to).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (from_dir.get() < 0 || to_dir.get() < 0) {
    return MakeError(ErrorCode::kIo, Errno("cannot open the state folders"), institution_dir);
  }
  const std::string base = preferred_name.empty() ? name : preferred_name;
  for (int attempt = 1; attempt < 10000; ++attempt) {
    std::string target = attempt == 1 ? base : WithSuffix(base, attempt);
    // RENAME_NOREPLACE: a file of the same name from an earlier day stays untouched.
    if (::renameat2(from_dir.get(), name.c_str(), to_dir.get(), target.c_str(), RENAME_NOREPLACE) ==
        0) {
      return target;
    }
    if (errno != EEXIST) {
      return MakeError(errno == ENOENT ? ErrorCode::kNoInput : ErrorCode::kIo,
                       Errno(("cannot move to " + to + "/").c_str()), from + "/" + SafeName(name));
    }
    // The name is taken in the target folder, or is a report's; try the next suffix.
  }
  return MakeError(ErrorCode::kIo, "no free name in " + to + "/", SafeName(name));
}

ClaimResult ClaimFile(const std::string& institution_dir, const std::string& name) {
  ClaimResult result;
  if (IsIgnoredName(name)) {
    result.kind = ClaimResult::Kind::kNotReady;
    result.reason = "hidden or temporary name";
    return result;
  }
  Fd incoming(::open((institution_dir + "/incoming").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (incoming.get() < 0) {
    result.kind = ClaimResult::Kind::kGone;
    result.reason = Errno("cannot open incoming/");
    return result;
  }

  auto refuse = [&](std::string reason) {
    Result<std::string> moved =
        MoveBetween(institution_dir, "incoming", name, "rejected", SafeName(name));
    if (!moved) {
      result.kind = ClaimResult::Kind::kGone;
      result.reason = moved.error().ToString();
      return result;
    }
    result.kind = ClaimResult::Kind::kRefused;
    result.name = *moved;
    result.reason = std::move(reason);
    return result;
  };

  struct stat st {};
  if (::fstatat(incoming.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    result.kind = ClaimResult::Kind::kGone;
    return result;
  }
  if (HasControlCharacters(name)) {
    return refuse(
        "refused: the file name contains a control character (such as a line "
        "break); rename it and drop it again");
  }
  if (S_ISLNK(st.st_mode)) {
    return refuse(
        "refused: this is a symbolic link; credd never follows links, drop the file "
        "itself");
  }
  if (S_ISDIR(st.st_mode)) {
    return refuse("refused: this is a folder; drop files, or a .zip for PDFs with a manifest");
  }
  if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISSOCK(st.st_mode)) {
    return refuse("refused: this is not a regular file (a FIFO, device or socket)");
  }

  // O_NOFOLLOW and O_NONBLOCK: the entry may have been swapped for a link or a FIFO since
  // the fstatat above, and opening must neither follow nor block.
  int raw = ::openat(incoming.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (raw < 0) {
    if (errno == ENOENT) {
      result.kind = ClaimResult::Kind::kGone;
      return result;
    }
    if (errno == ELOOP) return refuse("refused: this is a symbolic link");
    result.kind = ClaimResult::Kind::kNotReady;
    result.reason = Errno("cannot open");
    return result;
  }
  Fd file(raw);
  if (::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return refuse("refused: this is not a regular file");
  }
  if (st.st_nlink != 1) {
    return refuse("refused: this file has " + std::to_string(st.st_nlink) +
                  " hard links; credd takes only files with one name, so that nobody can "
                  "change it through another");
  }
  // A read lease is granted only when nobody has the file open for writing: the writer is
  // still at work. Filesystems without leases (network shares) answer EINVAL or EACCES; there
  // the rescan's settle time is the guard.
  if (::fcntl(file.get(), F_SETLEASE, F_RDLCK) == 0) {
    ::fcntl(file.get(), F_SETLEASE, F_UNLCK);
  } else if (errno == EAGAIN) {
    result.kind = ClaimResult::Kind::kNotReady;
    result.reason = "still open for writing";
    return result;
  }

  Result<std::string> moved = MoveBetween(institution_dir, "incoming", name, "processing");
  if (!moved) {
    result.kind = ClaimResult::Kind::kGone;  // Another credd won the rename.
    result.reason = moved.error().ToString();
    return result;
  }
  result.kind = ClaimResult::Kind::kClaimed;
  result.name = *moved;
  return result;
}

}  // namespace credd
