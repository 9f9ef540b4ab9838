#include "daemon/watch/drop_folders.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "common/posix_error.h"

namespace credd {
namespace {

Status MakeFolder(const std::string& path) {
  if (::mkdir(path.c_str(), 0770) == 0) return Status::Ok();
  int saved = errno;
  struct stat st {};
  if (saved == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return Status::Ok();
  }
  if (saved == EEXIST) return MakeError(ErrorCode::kIo, "exists but is not a folder", path);
  return PosixError(ErrorCode::kIo, "cannot create folder", saved, path);
}

}  // namespace

Status EnsureDropFolders(const std::string& institution_dir) {
  // The parent (drop_root) is created too, but only one level: a mistyped drop_root
  // should fail loudly rather than grow a tree in an unexpected place.
  auto slash = institution_dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    if (Status s = MakeFolder(institution_dir.substr(0, slash)); !s) return s;
  }
  if (Status s = MakeFolder(institution_dir); !s) return s;
  for (std::string_view sub : kDropSubfolders) {
    if (Status s = MakeFolder(institution_dir + "/" + std::string(sub)); !s) return s;
  }
  return Status::Ok();
}

}  // namespace credd
