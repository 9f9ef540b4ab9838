// Taking a dropped file: decide whether a name in incoming/ is ready, refuse what must never
// be read (symlinks, FIFOs, devices, folders, hard links, names with control characters),
// and move files between the state folders with renames that never replace anything.
// Thread contract: functions only; the caller serialises work on one institution's folders.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace credd {

// Names that are never ready: hidden (".x"), or still being written ("x.part", "x.tmp").
bool IsIgnoredName(std::string_view name);

// True when the name holds a C0 control character or DEL (a newline, say).
bool HasControlCharacters(std::string_view name);

struct ClaimResult {
  enum class Kind {
    kClaimed,   // Now processing/<name>.
    kNotReady,  // Still open for writing, or an ignored name: try again later.
    kRefused,   // Moved, as it is (a link stays a link), to rejected/<name>.
    kGone,      // Vanished (taken by another credd, or removed): nothing to do.
  };
  Kind kind = Kind::kGone;
  std::string name;    // Its name in processing/ or rejected/ (may differ from the dropped one).
  std::string reason;  // For kRefused and kNotReady: why, in words for staff.
};

// Claims incoming/<name> of an institution folder. The rename into processing/ is the claim:
// several credd processes may race for a file and exactly one wins.
ClaimResult ClaimFile(const std::string& institution_dir, const std::string& name);

// Moves <from>/<name> to <to>/, keeping the name if it is free there and otherwise adding
// "~2", "~3", ... before the extension; never replaces an existing file. Returns the name
// used. `from` and `to` are subfolder names (incoming, processing, done, rejected).
Result<std::string> MoveBetween(const std::string& institution_dir, const std::string& from,
                                const std::string& name, const std::string& to,
                                const std::string& preferred_name = "");

}  // namespace credd
