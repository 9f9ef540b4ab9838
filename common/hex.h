// Lower-case hex of bytes (digests, random names): one helper instead of a table per file.
// Thread contract: pure function.
#pragma once

#include <cstddef>
#include <string>

namespace credd {

inline std::string HexLower(const unsigned char* bytes, std::size_t length) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (std::size_t i = 0; i < length; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0xf];
  }
  return out;
}

// The value of one hex digit (either case); -1 when it is not one.
inline int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace credd
