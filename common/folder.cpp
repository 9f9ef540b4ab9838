#include "common/folder.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>

#include "common/posix_error.h"

namespace credd {

Result<std::vector<std::string>> ListFolder(const std::string& folder) {
  DIR* dir = ::opendir(folder.c_str());
  if (dir == nullptr) return PosixError(ErrorCode::kIo, "cannot list the folder", errno, folder);
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace credd
