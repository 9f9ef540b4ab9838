// Rules for names inside a pdf-manifest input: zip entry names and the manifest's `file`
// column. Both must stay inside the input, so the same checks serve both.
// Thread contract: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace credd::pdf_manifest {

enum class NameFault {
  kNone,
  kEmpty,      // "".
  kAbsolute,   // "/x.pdf" or "C:x.pdf": would name something outside the input.
  kParent,     // A ".." component: would climb out of the input.
  kBackslash,  // Windows separators make ".." checks unreliable, so they are refused.
  kControl,    // Control characters would corrupt report lines and logs.
};

// The first fault found in `name`, or kNone.
NameFault CheckEntryName(std::string_view name);

// 'name' in single quotes, with control characters written as \xNN so a report line
// stays one line whatever the archive contains.
std::string QuoteName(std::string_view name);

// True when the name ends in ".pdf" in any letter case.
bool HasPdfExtension(std::string_view name);

}  // namespace credd::pdf_manifest
