// Reads PESC College Transcript XML (v1.3-1.9), bare or inside an AcademicRecordBatch,
// streaming: each transcript goes to the sink when its element closes. DTDs and external
// entities are refused. Rules and limits: importers/pesc/README.md.
// Thread contract: one Read() at a time per object; no state survives between reads.
#pragma once

#include "importers/importer.h"
#include "importers/pesc/pesc_limits.h"

namespace credd {

class PescImporter : public Importer {
 public:
  PescImporter() = default;
  // Tests use small limits to reach them with small fixtures.
  explicit PescImporter(const PescLimits& limits) : limits_(limits) {}

  // Per-transcript problems go to the sink (OnError/OnWarning) and reading goes on. A file
  // that is not usable (malformed XML, a DTD, an unknown root, or over one of the limits:
  // file size, token size, text size, nesting depth, elements per transcript) returns
  // kData with where = "<display_name>:<line>:<col>" (just the name for the file size).
  Status Read(const ImportInput& input, RecordSink& sink) override;

 private:
  PescLimits limits_;
};

}  // namespace credd
