// The bounds a pdf-manifest input must stay within, so a hostile or broken zip cannot
// exhaust memory or time. Thread contract: plain values.
#pragma once

#include <cstdint>

namespace credd {

struct PdfManifestLimits {
  std::uint64_t max_pdf_bytes = 50ull << 20;       // A larger PDF rejects its row.
  std::uint64_t max_manifest_bytes = 16ull << 20;  // A larger manifest.csv rejects the input.
  std::uint64_t max_entries = 10000;               // More zip entries reject the zip.
  std::uint64_t max_total_bytes = 4ull << 30;      // Sum of uncompressed entry sizes.
  std::uint64_t bomb_ratio = 200;                  // An entry expanding more than this ...
  std::uint64_t bomb_min_bytes = 10ull << 20;      // ... to more than this is a zip bomb.
};

}  // namespace credd
