// The daemon's audit anchors (docs/operations.md "Proving the history"): the audit chain's
// head recorded outside the database every audit.anchor_hours, as a log line
// (event=audit.anchor, with the whole anchor line) and, when audit.anchors_file is set,
// appended to that file, which `credctl audit verify` checks the chain against.
// Thread contract: one caller at a time (the daemon's main thread, or --once).
#pragma once

#include <chrono>
#include <optional>

#include "common/clock.h"
#include "common/log.h"
#include "daemon/config/config.h"
#include "daemon/store/database.h"

namespace credd {

class AnchorKeeper {
 public:
  AnchorKeeper(const Database& database, Logger& log, const Clock& clock)
      : database_(database), log_(log), clock_(clock) {}

  // Takes an anchor when the last one is anchor_hours old or more (the file's last change;
  // without a file, the last this process took, so a start always takes one), and returns
  // how long until the next is due. A failure (database, file) is logged and tried again in
  // five minutes; so is a file that holds no anchor line (emptied): credd never appends to
  // it, since that would make a removed history look whole.
  std::chrono::seconds TakeIfDue(const AuditConfig& config);

 private:
  const Database& database_;
  Logger& log_;
  const Clock& clock_;
  std::optional<Clock::WallTime> last_taken_;  // By this process, when there is no file.
  bool appended_ = false;                      // This process has written to the file.
};

}  // namespace credd
