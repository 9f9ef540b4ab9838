// Instants as text, in the forms credd writes: ISO 8601 UTC for reports, audit and the
// database, and the same with microseconds where PostgreSQL compares against now().
// Thread contract: pure functions.
#pragma once

#include <chrono>
#include <ctime>
#include <string>

namespace credd {

// `time` in UTC through a strftime pattern ("D:%Y%m%d%H%M%SZ" for a PDF date).
std::string FormatUtc(std::chrono::system_clock::time_point time, const char* pattern);
// "2026-12-01T23:05:09Z".
std::string Iso8601Utc(std::chrono::system_clock::time_point time);
// "2026-12-01T23:05:09.123456Z": PostgreSQL keeps microseconds, so a row stamped with now()
// a moment ago compares as due.
std::string Iso8601UtcMicros(std::chrono::system_clock::time_point time);
// A broken-down UTC time (as OpenSSL's ASN1_TIME_to_tm gives) in the first form.
std::string Iso8601Utc(const std::tm& utc);

}  // namespace credd
