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

}  // namespace credd
