// Reads PESC College Transcript XML (v1.3-1.9), bare or inside an AcademicRecordBatch,
// streaming: each transcript goes to the sink when its element closes. DTDs and external
// entities are refused. Rules and limits: importers/pesc/README.md.
// Thread contract: one Read() at a time per object; no state survives between reads.
#pragma once

#include "importers/importer.h"

namespace credd {

class PescImporter : public Importer {
 public:
  PescImporter() = default;

  // Per-transcript problems go to the sink (OnError/OnWarning) and reading goes on. A file
  // that is not usable (malformed XML, a DTD, an unknown root, a text node over
  // kMaxTextBytes) returns kData with where = "<display_name>:<line>:<col>".
  Status Read(const ImportInput& input, RecordSink& sink) override;

  // No PESC element holds this much text; a bigger node is an attack or a broken export.
  static constexpr std::size_t kMaxTextBytes = 1 << 20;
  // Bounds the tree kept for one transcript (real ones have a few thousand elements).
  static constexpr std::size_t kMaxElementsPerTranscript = 200000;
};

}  // namespace credd
