// Watches each institution's incoming/ folder and says when a name there is worth trying:
// at once on inotify's IN_CLOSE_WRITE or IN_MOVED_TO (and IN_CREATE of anything that is not
// a regular file, so links and FIFOs are refused promptly), and from a periodic full rescan
// once a file's size and mtime have been stable for the settle time (network shares, where
// inotify never fires). IN_Q_OVERFLOW triggers an immediate rescan.
// The watcher only notifies; ClaimFile decides. Thread contract: runs on its io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/result.h"

namespace credd {

class DropWatcher {
 public:
  using ReadyCallback =
      std::function<void(const std::string& institution_id, const std::string& name)>;

  struct Folder {
    std::string institution_id;
    std::string incoming_dir;
  };

  DropWatcher(boost::asio::io_context& io, Logger& log, ReadyCallback on_ready);
  ~DropWatcher();
  DropWatcher(const DropWatcher&) = delete;
  DropWatcher& operator=(const DropWatcher&) = delete;

  // Replaces the watched folders (at start and on reload). kIo naming a folder that cannot
  // be watched.
  Status SetFolders(const std::vector<Folder>& folders);
  // Starts reading events and the rescan timer. The first rescan runs at once.
  Status Start(std::chrono::seconds rescan_period, std::chrono::seconds settle_time);
  void SetTimings(std::chrono::seconds rescan_period, std::chrono::seconds settle_time);
  void RescanNow();
  void Stop();

 private:
  struct Seen {
    off_t size = 0;
    struct timespec mtime {};
    std::chrono::steady_clock::time_point stable_since;
  };
  void ReadEvents();
  void HandleEvents(size_t bytes);
  void ScheduleRescan();
  void Rescan();

  boost::asio::io_context& io_;
  Logger& log_;
  ReadyCallback on_ready_;
  int inotify_fd_ = -1;
  boost::asio::posix::stream_descriptor stream_;
  boost::asio::steady_timer rescan_timer_;
  std::chrono::seconds rescan_period_{30};
  std::chrono::seconds settle_time_{5};
  std::map<int, Folder> by_watch_;  // inotify watch descriptor -> folder.
  std::vector<Folder> folders_;
  std::map<std::string, Seen> seen_;  // "<institution>/<name>" -> last observation.
  std::vector<char> buffer_;
  bool stopped_ = false;
};

}  // namespace credd
