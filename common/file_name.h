// File names are bytes, not text: a Windows share or a Latin-1 SIS host writes names that
// are not UTF-8. credd keeps the real name on disk and uses this one lossless rendering
// wherever text is needed (database, JSON, logs, reports).
// Thread contract: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace credd {

// Valid UTF-8 as it is, except: a byte that is not part of valid UTF-8, a C0 control
// character or DEL becomes "\xHH" (lower-case hex), and a backslash becomes "\\", so two
// different names never render the same. "r\xe9sultats.csv" -> "r\\xe9sultats.csv" (shown
// as r\xe9sultats.csv).
std::string NameAsText(std::string_view name);

// True when NameAsText would change nothing.
bool IsPlainName(std::string_view name);

}  // namespace credd
