// Progress of a worker thread, for the systemd watchdog: the thread says when it starts a
// unit of work, beats as it makes progress (a record, a document, an email) and says when
// it is idle again; the watchdog asks whether it has been busy without a beat for too long.
// Thread contract: Begin/Beat/End from the worker, StalledFor from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace credd {

class Heartbeat {
 public:
  using Clock = std::chrono::steady_clock;

  void Begin() {
    const int64_t now = Now();
    last_beat_.store(now);
    busy_.store(true);
  }
  void Beat() { last_beat_.store(Now()); }
  void End() { busy_.store(false); }

  // How long the thread has been busy without a beat; zero when idle.
  Clock::duration StalledFor(Clock::time_point now = Clock::now()) const {
    if (!busy_.load()) return Clock::duration::zero();
    const Clock::duration since(now.time_since_epoch().count() - last_beat_.load());
    return since > Clock::duration::zero() ? since : Clock::duration::zero();
  }

 private:
  static int64_t Now() { return Clock::now().time_since_epoch().count(); }

  std::atomic<bool> busy_{false};
  std::atomic<int64_t> last_beat_{0};
};

// Begin on construction, End on destruction: one unit of work.
class HeartbeatScope {
 public:
  explicit HeartbeatScope(Heartbeat& heartbeat) : heartbeat_(heartbeat) { heartbeat_.Begin(); }
  ~HeartbeatScope() { heartbeat_.End(); }
  HeartbeatScope(const HeartbeatScope&) = delete;
  HeartbeatScope& operator=(const HeartbeatScope&) = delete;

 private:
  Heartbeat& heartbeat_;
};

}  // namespace credd
