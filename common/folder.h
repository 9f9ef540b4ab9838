// Listing a folder: the one readdir loop that intake, the report sweep and credctl share.
// Thread contract: a function over the filesystem; no state.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace credd {

// The names in `folder` (bytes as on disk, without "." and ".."), sorted. kIo naming the
// folder when it cannot be opened.
Result<std::vector<std::string>> ListFolder(const std::string& folder);

}  // namespace credd
