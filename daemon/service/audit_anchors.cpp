// The daemon's audit anchors; see audit_anchors.h.
#include "daemon/service/audit_anchors.h"

#include <filesystem>
#include <system_error>

#include "daemon/store/audit_chain.h"

namespace credd {

namespace {

constexpr std::chrono::seconds kRetry{300};

// When the anchors file last changed, if it exists.
std::optional<Clock::WallTime> LastChange(const std::string& path) {
  std::error_code error;
  const auto changed = std::filesystem::last_write_time(path, error);
  if (error) return std::nullopt;
  return std::chrono::time_point_cast<Clock::WallTime::duration>(
      std::chrono::file_clock::to_sys(changed));
}

}  // namespace

std::chrono::seconds AnchorKeeper::TakeIfDue(const AuditConfig& config) {
  const std::chrono::seconds interval = std::chrono::hours(config.anchor_hours);
  const Clock::WallTime now = clock_.Now();
  const std::optional<Clock::WallTime> last =
      config.anchors_file.empty() ? last_taken_ : LastChange(config.anchors_file);
  if (last && now - *last < interval && now >= *last) {
    const auto next = std::chrono::duration_cast<std::chrono::seconds>(interval - (now - *last)) +
                      std::chrono::seconds(1);
    log_.Info("audit.anchor_next",
              {{"in_seconds", std::to_string(next.count())}, {"file", config.anchors_file}});
    return next;
  }
  auto fail = [&](const Error& error) {
    log_.Error("audit.anchor_failed",
               {{"error", error.ToString()}, {"retry_seconds", std::to_string(kRetry.count())}});
    return kRetry;
  };
  if (!config.anchors_file.empty()) {
    // An emptied (or unreadable) file is a finding: appending would make it look whole
    // again. A file this process wrote that is gone is said loudly, then started again (the
    // log holds every anchor, and the off-host copy the older ones).
    Result<std::optional<AuditAnchor>> current = ReadAnchorsFile(config.anchors_file);
    if (!current) return fail(current.error());
    if (!current->has_value() && appended_) {
      log_.Error("audit.anchors_file_missing",
                 {{"file", config.anchors_file},
                  {"action", "starting it again; compare the log and the off-host copy"}});
    }
  }
  Result<std::unique_ptr<Store>> store = database_.Connect();
  if (!store) return fail(store.error());
  Result<AuditAnchor> head = AuditHead(**store);
  if (!head) return fail(head.error());
  // Logged first: the log is the second place it is kept, and keeps it when the file fails.
  log_.Info("audit.anchor", {{"seq", std::to_string(head->seq)},
                             {"hash", head->hash},
                             {"file", config.anchors_file},
                             {"line", AnchorLine(*head)}});
  if (!config.anchors_file.empty()) {
    if (Status s = AppendAnchor(config.anchors_file, *head); !s) return fail(s.error());
    appended_ = true;
  }
  last_taken_ = now;
  return interval;
}

}  // namespace credd
