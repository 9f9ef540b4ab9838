// What time it is, asked of one interface wherever credd reads the time: timestamps in
// reports, audit and the database, mail windows and backoff, leases and their renewal, and
// how long a stage took. Production code takes the SystemClock from its composition root;
// tests take a PinnedClock, so time moves only when a test moves it.
// Thread contract: SystemClock is stateless; PinnedClock may be read and moved from any
// thread.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

namespace credd {

class Clock {
 public:
  using WallTime = std::chrono::system_clock::time_point;
  using SteadyTime = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  // The wall-clock instant, for what is recorded or compared with stored times.
  virtual WallTime Now() const = 0;
  // A monotonic instant, for how long something took or has waited: never jumps.
  virtual SteadyTime Steady() const = 0;

  // Now() as "2026-12-01T23:05:09Z" (reports, audit).
  std::string NowIso8601() const;
};

// The machine's clocks. Lives for the whole process.
const Clock& SystemClock();

// A clock that stands still until told: both readings move together by Advance, and Set
// moves the wall time alone (as an NTP step would).
class PinnedClock final : public Clock {
 public:
  explicit PinnedClock(WallTime start) : wall_(start.time_since_epoch().count()) {}
  WallTime Now() const override { return WallTime(WallTime::duration(wall_.load())); }
  SteadyTime Steady() const override { return SteadyTime(SteadyTime::duration(steady_.load())); }
  void Set(WallTime now) { wall_.store(now.time_since_epoch().count()); }
  template <typename Rep, typename Period>
  void Advance(std::chrono::duration<Rep, Period> by) {
    wall_.fetch_add(std::chrono::duration_cast<WallTime::duration>(by).count());
    steady_.fetch_add(std::chrono::duration_cast<SteadyTime::duration>(by).count());
  }

 private:
  std::atomic<WallTime::rep> wall_;
  std::atomic<SteadyTime::rep> steady_{0};
};

}  // namespace credd
