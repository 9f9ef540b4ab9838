// The drop-folder layout of one institution: incoming/, processing/, done/, rejected/.
// A file's state is the folder it sits in (DESIGN.md, "The drop folder").
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "common/result.h"

namespace credd {

inline constexpr std::array<std::string_view, 4> kDropSubfolders = {"incoming", "processing",
                                                                    "done", "rejected"};

// Creates the institution folder and its four state folders when missing (mode 0770, so
// a registrar group can drop files). Existing folders are left as they are. kIo on failure,
// naming the folder.
Status EnsureDropFolders(const std::string& institution_dir);

}  // namespace credd
