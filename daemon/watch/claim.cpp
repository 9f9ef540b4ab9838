#include "daemon/watch/claim.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "common/file_name.h"

namespace credd {
namespace {

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// A name safe to keep on disk in rejected/: control characters become '_'.
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

UniqueFd OpenFolder(const std::string& path) {
  return UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

// Renames without ever replacing `to`. EEXIST when it is taken. Where the filesystem has no
// RENAME_NOREPLACE (EINVAL: NFS, CIFS, some FUSE), a hard link is just as exclusive; where
// it has no hard links either, the target is checked first, which leaves only a window
// between two credd processes claiming two files of one name at the same moment.
int RenameNoReplace(int from_dir, const char* from, int to_dir, const char* to) {
  if (::renameat2(from_dir, from, to_dir, to, RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  if (::linkat(from_dir, from, to_dir, to, 0) == 0) {
    if (::unlinkat(from_dir, from, 0) == 0) return 0;
    const int saved = errno;
    ::unlinkat(to_dir, to, 0);  // Undo: the file keeps its one name.
    errno = saved;
    return -1;
  }
  if (errno != EPERM && errno != EOPNOTSUPP && errno != EMLINK && errno != EXDEV) return -1;
  struct stat st {};
  if (::fstatat(to_dir, to, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    errno = EEXIST;
    return -1;
  }
  return ::renameat(from_dir, from, to_dir, to);
}

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
                                const std::string& preferred_name, const BeforeMove& before) {
  UniqueFd from_dir = OpenFolder(institution_dir + "/" + from);
  if (!from_dir.valid()) {
    return PosixError(ErrorCode::kIo, "cannot open the folder", errno,
                      NameAsText(institution_dir + "/" + from));
  }
  UniqueFd to_dir = OpenFolder(institution_dir + "/" + to);
  if (!to_dir.valid()) {
    return PosixError(ErrorCode::kIo, "cannot open the folder", errno,
                      NameAsText(institution_dir + "/" + to));
  }
  const std::string base = preferred_name.empty() ? name : preferred_name;
  for (int attempt = 1; attempt < 10000; ++attempt) {
    std::string target = attempt == 1 ? base : WithSuffix(base, attempt);
    if (before) {
      Result<bool> go = before(target);
      if (!go) return go.error();
      if (!*go) continue;
    }
    // Never replaces: a file of the same name from an earlier day stays untouched.
    if (RenameNoReplace(from_dir.get(), name.c_str(), to_dir.get(), target.c_str()) == 0) {
      return target;
    }
    if (errno == EEXIST) continue;  // Taken in the target folder; try the next suffix.
    const int error = errno;
    if (error == ENOENT) {
      struct stat st {};
      if (::fstatat(from_dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return PosixError(ErrorCode::kNoInput, "gone from " + from + "/", error, NameAsText(name));
      }
    }
    return PosixError(ErrorCode::kIo, "cannot move " + NameAsText(name) + " to " + to + "/", error,
                      NameAsText(institution_dir + "/" + from));
  }
  return MakeError(ErrorCode::kIo, "no free name in " + to + "/", NameAsText(name));
}

Result<UniqueFd> OpenClaimedFile(const std::string& path) {
  // O_NOFOLLOW and O_NONBLOCK: whatever sits under the name now (a link, a FIFO swapped in)
  // is neither followed nor allowed to block the worker.
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!file.valid()) {
    if (errno == ELOOP) return MakeError(ErrorCode::kData, "this is a symbolic link");
    return PosixError(errno == ENOENT ? ErrorCode::kNoInput : ErrorCode::kIo, "cannot open", errno,
                      NameAsText(path));
  }
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) {
    return PosixError(ErrorCode::kIo, "cannot stat", errno, NameAsText(path));
  }
  if (!S_ISREG(st.st_mode)) {
    return MakeError(ErrorCode::kData, "this is not a regular file (a FIFO, device or socket)");
  }
  if (st.st_nlink != 1) {
    return MakeError(ErrorCode::kData,
                     "this file has " + std::to_string(st.st_nlink) +
                         " hard links; credd takes only files with one name, so that nobody can "
                         "change it through another");
  }
  // Reads block as usual from here on: a regular file never waits for a writer.
  int flags = ::fcntl(file.get(), F_GETFL);
  if (flags >= 0) ::fcntl(file.get(), F_SETFL, flags & ~O_NONBLOCK);
  return file;
}

ClaimResult ClaimFile(const std::string& institution_dir, const std::string& name,
                      const ClaimOptions& options) {
  ClaimResult result;
  if (IsIgnoredName(name)) {
    result.kind = ClaimResult::Kind::kNotReady;
    result.reason = "hidden or temporary name";
    return result;
  }
  UniqueFd incoming = OpenFolder(institution_dir + "/incoming");
  if (!incoming.valid()) {
    result.kind = ClaimResult::Kind::kFailed;
    result.reason = PosixError(ErrorCode::kIo, "cannot open the folder", errno,
                               NameAsText(institution_dir + "/incoming"))
                        .ToString();
    return result;
  }

  // The caller moves a refused entry, after writing its report under the name it gets.
  auto refuse = [&](std::string reason) {
    result.kind = ClaimResult::Kind::kRefused;
    result.reason = std::move(reason);
    result.name = SafeName(name);
    return std::move(result);
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

  // The entry may have been swapped for a link or a FIFO since the fstatat above: open it
  // the safe way and judge what was opened.
  Result<UniqueFd> opened = OpenClaimedFile(institution_dir + "/incoming/" + name);
  if (!opened) {
    if (opened.error().code == ErrorCode::kNoInput) {
      result.kind = ClaimResult::Kind::kGone;
      return result;
    }
    if (opened.error().code == ErrorCode::kData)
      return refuse("refused: " + opened.error().message);
    result.kind = ClaimResult::Kind::kNotReady;
    result.reason = opened.error().ToString();
    return result;
  }
  UniqueFd file = std::move(opened).value();
  if (::fstat(file.get(), &st) != 0) {
    result.kind = ClaimResult::Kind::kNotReady;
    result.reason = std::string("cannot stat: ") + std::strerror(errno);
    return result;
  }
  // A read lease is granted only when nobody has the file open for writing: the writer is
  // still at work. Without CAP_LEASE a lease on another user's file is refused (EACCES), and
  // network filesystems have none (EINVAL): then the settle time decides, and says so.
  if (::fcntl(file.get(), F_SETLEASE, F_RDLCK) == 0) {
    ::fcntl(file.get(), F_SETLEASE, F_UNLCK);
  } else if (errno == EAGAIN) {
    result.kind = ClaimResult::Kind::kNotReady;
    result.reason = "still open for writing";
    return result;
  } else {
    const int lease_error = errno;
    const auto modified = std::chrono::system_clock::time_point(
        std::chrono::seconds(st.st_mtim.tv_sec) +
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
    if (options.clock->Now() - modified < options.settle_time) {
      result.kind = ClaimResult::Kind::kNotReady;
      result.reason = std::string("no lease (") + std::strerror(lease_error) +
                      "): waiting until it has been unchanged for " +
                      std::to_string(options.settle_time.count()) + " s";
      return result;
    }
    result.ready_check = ReadyCheck::kSettleTime;
  }

  Result<std::string> moved = MoveBetween(institution_dir, "incoming", name, "processing");
  if (!moved) {
    // Gone means another credd (or a person) took it first; anything else is a folder
    // credd cannot use, which somebody must hear about.
    result.kind = moved.error().code == ErrorCode::kNoInput ? ClaimResult::Kind::kGone
                                                            : ClaimResult::Kind::kFailed;
    result.reason = moved.error().ToString();
    return result;
  }
  result.kind = ClaimResult::Kind::kClaimed;
  result.name = *moved;
  result.file = std::move(file);
  return result;
}

}  // namespace credd
