#include "common/clock.h"

#include <gtest/gtest.h>

#include <chrono>

namespace credd {
namespace {

using std::chrono::seconds;

TEST(PinnedClockTest, StandsStillUntilMoved) {
  const Clock::WallTime start = std::chrono::sys_days{std::chrono::year{2026} / 12 / 1};
  PinnedClock clock(start);
  const Clock::SteadyTime steady = clock.Steady();
  EXPECT_EQ(clock.Now(), start);
  EXPECT_EQ(clock.Now(), start) << "read twice, still the same instant";
  EXPECT_EQ(clock.NowIso8601(), "2026-12-01T00:00:00Z");

  clock.Advance(seconds(90));
  EXPECT_EQ(clock.Now(), start + seconds(90));
  EXPECT_EQ(clock.Steady() - steady, seconds(90));

  // A wall-clock step moves the wall time alone: durations measured across it stay true.
  clock.Set(start - seconds(3600));
  EXPECT_EQ(clock.Now(), start - seconds(3600));
  EXPECT_EQ(clock.Steady() - steady, seconds(90));
}

TEST(SystemClockTest, ReadsTheMachinesClocks) {
  const Clock& clock = SystemClock();
  const auto before = std::chrono::system_clock::now();
  const Clock::WallTime now = clock.Now();
  EXPECT_GE(now, before);
  EXPECT_LE(now, std::chrono::system_clock::now());
  const Clock::SteadyTime a = clock.Steady();
  EXPECT_LE(a, clock.Steady());
}

}  // namespace
}  // namespace credd
