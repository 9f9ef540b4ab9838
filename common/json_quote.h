// A JSON string literal for text built by hand into SQL parameters (jsonb) and reports:
// quotes and backslashes escaped, control characters as \u00XX.
#pragma once

#include <string>
#include <string_view>

namespace credd {

inline std::string JsonQuote(std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace credd
