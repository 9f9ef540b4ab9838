// ISO 8601 formatting; see time_format.h.
#include "common/time_format.h"

#include <cstdio>

namespace credd {

std::string Iso8601Utc(const std::tm& utc) {
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

std::string FormatUtc(std::chrono::system_clock::time_point time, const char* pattern) {
  const std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[64];
  // The patterns are the callers' string literals (this file's and the signer's).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  std::strftime(buf, sizeof buf, pattern, &utc);
#pragma GCC diagnostic pop
  return buf;
}

std::string Iso8601Utc(std::chrono::system_clock::time_point time) {
  return FormatUtc(time, "%Y-%m-%dT%H:%M:%SZ");
}

std::string Iso8601UtcMicros(std::chrono::system_clock::time_point time) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count() %
      1000000;
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lldZ", static_cast<long long>(micros));
  return FormatUtc(time, "%Y-%m-%dT%H:%M:%S") + frac;
}

}  // namespace credd
