// The bounds a PESC input must stay within, so a hostile or broken file cannot exhaust
// memory, time or the stack. The importer's own options: nothing here comes from the
// daemon's config. Thread contract: plain values.
#pragma once

#include <cstddef>
#include <cstdint>

namespace credd {

struct PescLimits {
  std::uint64_t max_file_bytes = 256ull << 20;  // A larger file is refused before parsing.
  // The longest single markup token (a comment, a start tag with its attributes, a
  // processing instruction): expat buffers an unfinished token whole.
  std::size_t max_token_bytes = 16u << 20;
  std::size_t max_text_bytes = 1u << 20;  // No PESC element holds more character data.
  int max_depth = 256;  // Deepest element nesting; real transcripts nest about 10 deep.
  // Bounds the tree kept for one transcript (real ones have a few thousand elements).
  std::size_t max_elements_per_transcript = 200000;
};

}  // namespace credd
