// The system clock and Clock's helpers; see clock.h.
#include "common/clock.h"

#include "common/time_format.h"

namespace credd {
namespace {

class SystemClockImpl final : public Clock {
 public:
  WallTime Now() const override { return std::chrono::system_clock::now(); }
  SteadyTime Steady() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace

std::string Clock::NowIso8601() const { return Iso8601Utc(Now()); }

const Clock& SystemClock() {
  static const SystemClockImpl clock;
  return clock;
}

}  // namespace credd
