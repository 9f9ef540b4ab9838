// Name rules shared by the zip and folder readers and the manifest rows.
#include "importers/pdf_manifest/entry_name.h"

#include <cctype>
#include <cstdio>

namespace credd::pdf_manifest {
namespace {

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

}  // namespace

NameFault CheckEntryName(std::string_view name) {
  if (name.empty()) return NameFault::kEmpty;
  for (char c : name) {
    if (IsControl(static_cast<unsigned char>(c))) return NameFault::kControl;
  }
  if (name.find('\\') != std::string_view::npos) return NameFault::kBackslash;
  // A drive letter is absolute for the Windows tools that may unpack the same archive.
  bool drive =
      name.size() >= 2 && name[1] == ':' && std::isalpha(static_cast<unsigned char>(name[0])) != 0;
  if (name.front() == '/' || drive) return NameFault::kAbsolute;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string_view::npos) slash = name.size();
    if (name.substr(start, slash - start) == "..") return NameFault::kParent;
    start = slash + 1;
  }
  return NameFault::kNone;
}

std::string QuoteName(std::string_view name) {
  std::string out = "'";
  for (char c : name) {
    auto byte = static_cast<unsigned char>(c);
    if (IsControl(byte)) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "'";
}

bool HasPdfExtension(std::string_view name) {
  if (name.size() < 4) return false;
  std::string_view ext = name.substr(name.size() - 4);
  return ext[0] == '.' && std::tolower(static_cast<unsigned char>(ext[1])) == 'p' &&
         std::tolower(static_cast<unsigned char>(ext[2])) == 'd' &&
         std::tolower(static_cast<unsigned char>(ext[3])) == 'f';
}

}  // namespace credd::pdf_manifest
