// Opening what an importer reads: the daemon's claimed descriptor when it hands one over
// (so whatever is put under the file's name later is never what is read), otherwise the
// path, opened without following a link or blocking on a FIFO, and only if it is a regular
// file. Thread contract: functions only.
#pragma once

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace credd {

// A descriptor of its own, positioned at the start of the file. `borrowed_fd` >= 0 is
// duplicated (the caller keeps its own); otherwise `path` is opened. kData (naming
// display_name) when the path is a link or not a regular file; kNoInput when it is missing.
Result<UniqueFd> OpenImportFile(const std::string& path, int borrowed_fd,
                                const std::string& display_name);

}  // namespace credd
