#include "common/file_name.h"

#include <utf8proc.h>

namespace credd {
namespace {

void AppendEscaped(std::string& out, unsigned char byte) {
  static const char kHex[] = "0123456789abcdef";
  out += "\\x";
  out += kHex[byte >> 4];
  out += kHex[byte & 0xf];
}

}  // namespace

std::string NameAsText(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(name.data());
  size_t i = 0;
  while (i < name.size()) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) {
        AppendEscaped(out, c);
      } else if (c == '\\') {
        out += "\\\\";
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // utf8proc refuses overlong forms, surrogates and code points past U+10FFFF.
    utf8proc_int32_t code_point = 0;
    const utf8proc_ssize_t length =
        utf8proc_iterate(bytes + i, static_cast<utf8proc_ssize_t>(name.size() - i), &code_point);
    if (length <= 0) {
      AppendEscaped(out, c);
      ++i;
      continue;
    }
    out.append(name.substr(i, static_cast<size_t>(length)));
    i += static_cast<size_t>(length);
  }
  return out;
}

bool IsPlainName(std::string_view name) { return NameAsText(name) == name; }

}  // namespace credd
