// Taking a dropped file: decide whether a name in incoming/ is ready, refuse what must never
// be read (symlinks, FIFOs, devices, folders, hard links, names with control characters),
// and move files between the state folders with renames that never replace anything.
// Thread contract: functions only; the caller serialises work on one institution's folders.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace credd {

// Names that are never ready: hidden (".x"), or still being written ("x.part", "x.tmp").
bool IsIgnoredName(std::string_view name);

// True when the name holds a C0 control character or DEL (a newline, say).
bool HasControlCharacters(std::string_view name);

// How a file was judged finished.
enum class ReadyCheck {
  kLease,       // A read lease was granted: nobody has it open for writing.
  kSettleTime,  // Leases are unavailable (another user's file, a network share): the file
                // has not changed for the settle time.
};

struct ClaimOptions {
  // Used when no lease can be taken: a file younger than this (by mtime) waits.
  std::chrono::seconds settle_time{5};
  const Clock* clock = &SystemClock();  // Against which a file's mtime is aged.
};

struct ClaimResult {
  enum class Kind {
    kClaimed,   // Now processing/<name>; `file` is open on it.
    kNotReady,  // Still open for writing, or an ignored name: try again later.
    kRefused,   // Must go, as it is (a link stays a link), to rejected/: `name` is the name
                // to give it there (control characters replaced). Not moved yet: the
                // caller writes its report first.
    kGone,      // Vanished (taken by another credd, or removed): nothing to do.
    kFailed,    // The folders cannot be used (permissions, read-only, not one filesystem):
                // `reason` names the folder and the system's error. Nothing moved.
  };
  Kind kind = Kind::kGone;
  std::string name;    // Its name in processing/, or the one to give it in rejected/.
  std::string reason;  // For kRefused, kNotReady and kFailed: why, in words for staff.
  ReadyCheck ready_check = ReadyCheck::kLease;
  UniqueFd file;  // kClaimed: the claimed file, opened without following links or blocking.
};

// Claims incoming/<name> of an institution folder. The rename into processing/ is the claim:
// several credd processes may race for a file and exactly one wins.
ClaimResult ClaimFile(const std::string& institution_dir, const std::string& name,
                      const ClaimOptions& options = {});

// Opens a claimed file for reading without following a link or blocking on a FIFO, and
// checks that it is a regular file with one link. kData saying why when it is not.
Result<UniqueFd> OpenClaimedFile(const std::string& path);

// Moves <from>/<name> to <to>/, keeping the name if it is free there and otherwise adding
// "~2", "~3", ... before the extension; never replaces an existing file. Returns the name
// used. `from` and `to` are subfolder names (incoming, processing, done, rejected).
// kNoInput when the file is gone; kIo naming the folder for any other failure. Where the
// filesystem has no RENAME_NOREPLACE (NFS, CIFS), a hard link and an unlink do the same.
//
// `before`, when given, runs for each candidate name just before the move: it returns true
// to move under that name, false to try the next one, or an error to stop (nothing moved).
// Reports are written there, so that a file in done/ or rejected/ always has its report.
using BeforeMove = std::function<Result<bool>(const std::string& target)>;
Result<std::string> MoveBetween(const std::string& institution_dir, const std::string& from,
                                const std::string& name, const std::string& to,
                                const std::string& preferred_name = "",
                                const BeforeMove& before = nullptr);

}  // namespace credd
