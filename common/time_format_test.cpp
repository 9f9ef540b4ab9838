#include "common/time_format.h"

#include <gtest/gtest.h>

namespace credd {
namespace {

TEST(TimeFormatTest, Iso8601Utc) {
  using namespace std::chrono;
  const system_clock::time_point at = system_clock::from_time_t(1796166309) + microseconds(42);
  EXPECT_EQ(Iso8601Utc(at), "2026-12-01T23:05:09Z");
  EXPECT_EQ(Iso8601UtcMicros(at), "2026-12-01T23:05:09.000042Z");
  EXPECT_EQ(Iso8601UtcMicros(system_clock::from_time_t(0)), "1970-01-01T00:00:00.000000Z");
  std::tm utc{};
  utc.tm_year = 124;
  utc.tm_mon = 5;
  utc.tm_mday = 14;
  EXPECT_EQ(Iso8601Utc(utc), "2024-06-14T00:00:00Z");
}

}  // namespace
}  // namespace credd
