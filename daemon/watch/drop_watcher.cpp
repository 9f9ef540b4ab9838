#include "daemon/watch/drop_watcher.h"

#include <dirent.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "common/posix_error.h"
#include "daemon/watch/claim.h"

namespace credd {
namespace {

constexpr uint32_t kWatchMask =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ONLYDIR | IN_EXCL_UNLINK;

}  // namespace

DropWatcher::DropWatcher(boost::asio::io_context& io, Logger& log, ReadyCallback on_ready)
    : io_(io),
      log_(log),
      on_ready_(std::move(on_ready)),
      stream_(io),
      rescan_timer_(io),
      buffer_(64 * 1024) {}

DropWatcher::~DropWatcher() { Stop(); }

Status DropWatcher::SetFolders(const std::vector<Folder>& folders) {
  if (inotify_fd_ < 0) {
    inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ < 0) {
      return PosixError(ErrorCode::kIo, "inotify_init1", errno);
    }
    stream_.assign(inotify_fd_);
  }
  for (const auto& [wd, folder] : by_watch_) ::inotify_rm_watch(inotify_fd_, wd);
  by_watch_.clear();
  for (const Folder& folder : folders) {
    int wd = ::inotify_add_watch(inotify_fd_, folder.incoming_dir.c_str(), kWatchMask);
    if (wd < 0) {
      return PosixError(ErrorCode::kIo, "cannot watch", errno, folder.incoming_dir);
    }
    by_watch_[wd] = folder;
  }
  folders_ = folders;
  return Status::Ok();
}

Status DropWatcher::Start(std::chrono::seconds rescan_period, std::chrono::seconds settle_time) {
  rescan_period_ = rescan_period;
  settle_time_ = settle_time;
  stopped_ = false;
  ReadEvents();
  boost::asio::post(io_, [this] { Rescan(); });
  ScheduleRescan();
  return Status::Ok();
}

void DropWatcher::SetTimings(std::chrono::seconds rescan_period, std::chrono::seconds settle_time) {
  rescan_period_ = rescan_period;
  settle_time_ = settle_time;
}

void DropWatcher::Stop() {
  stopped_ = true;
  rescan_timer_.cancel();
  if (stream_.is_open()) {
    boost::system::error_code ignored;
    stream_.cancel(ignored);
    stream_.close(ignored);  // Closes inotify_fd_ too.
  }
  inotify_fd_ = -1;
}

void DropWatcher::ReadEvents() {
  stream_.async_read_some(boost::asio::buffer(buffer_),
                          [this](const boost::system::error_code& ec, size_t bytes) {
                            if (ec || stopped_) return;
                            HandleEvents(bytes);
                            ReadEvents();
                          });
}

void DropWatcher::HandleEvents(size_t bytes) {
  size_t offset = 0;
  while (offset + sizeof(inotify_event) <= bytes) {
    const auto* event = reinterpret_cast<const inotify_event*>(buffer_.data() + offset);
    offset += sizeof(inotify_event) + event->len;
    if (event->mask & IN_Q_OVERFLOW) {
      log_.Warn("watch.overflow", {{"action", "rescanning now"}});
      RescanNow();
      continue;
    }
    auto folder = by_watch_.find(event->wd);
    if (folder == by_watch_.end() || event->len == 0) continue;
    std::string name(event->name);
    if (IsIgnoredName(name)) continue;
    if (event->mask & IN_CREATE) {
      // A regular file being created is not ready until closed; anything else (a link, a
      // FIFO, a folder, a second hard link) never sends IN_CLOSE_WRITE, so look now.
      struct stat st {};
      std::string path = folder->second.incoming_dir + "/" + name;
      if (::lstat(path.c_str(), &st) != 0) continue;
      if (S_ISREG(st.st_mode) && st.st_nlink == 1) continue;
    }
    on_ready_(folder->second.institution_id, name);
  }
}

void DropWatcher::ScheduleRescan() {
  rescan_timer_.expires_after(rescan_period_);
  rescan_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    Rescan();
    ScheduleRescan();
  });
}

void DropWatcher::RescanNow() {
  boost::asio::post(io_, [this] {
    if (!stopped_) Rescan();
  });
}

void DropWatcher::Rescan() {
  auto now = std::chrono::steady_clock::now();
  std::set<std::string> present;
  for (const Folder& folder : folders_) {
    DIR* dir = ::opendir(folder.incoming_dir.c_str());
    if (dir == nullptr) {
      log_.Error("watch.rescan_failed",
                 {{"folder", folder.incoming_dir}, {"error", std::strerror(errno)}});
      continue;
    }
    while (dirent* entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      if (IsIgnoredName(name)) continue;  // Also skips "." and "..".
      struct stat st {};
      if (::fstatat(::dirfd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      std::string key = folder.institution_id + "/" + name;
      present.insert(key);
      if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
        on_ready_(folder.institution_id, name);  // To be refused; no need to settle.
        continue;
      }
      auto it = seen_.find(key);
      bool changed = it == seen_.end() || it->second.size != st.st_size ||
                     it->second.mtime.tv_sec != st.st_mtim.tv_sec ||
                     it->second.mtime.tv_nsec != st.st_mtim.tv_nsec;
      if (changed) {
        seen_[key] = Seen{st.st_size, st.st_mtim, now};
        continue;
      }
      if (now - it->second.stable_since >= settle_time_) on_ready_(folder.institution_id, name);
    }
    ::closedir(dir);
  }
  // Forget what left incoming/, so the map stays as small as the folders.
  for (auto it = seen_.begin(); it != seen_.end();) {
    it = present.count(it->first) ? std::next(it) : seen_.erase(it);
  }
}

}  // namespace credd
