// A RecordSink for the importer fuzz targets: keeps nothing, but checks that every record
// and error it is handed is well-formed (line numbers positive, messages non-empty).
// Thread contract: one per Read().
#pragma once

#include "fuzz/fuzz_support.h"
#include "importers/importer.h"

namespace credd::fuzz {

class CheckingSink : public RecordSink {
 public:
  bool OnRecord(CredentialRecord record) override {
    Check(record.line >= 0, "a record with a negative line");
    ++records;
    return true;
  }
  bool OnError(RecordError error) override {
    Check(!error.message.empty(), "a record error without a message");
    Check(error.line >= 0, "a record error with a negative line");
    ++errors;
    return true;
  }
  void OnWarning(RecordError warning) override {
    Check(!warning.message.empty(), "a warning without a message");
  }

  int records = 0;
  int errors = 0;
};

// Every file-level error must name the input and say why.
inline void CheckStatus(const Status& status, std::string_view display_name) {
  if (status.ok()) return;
  Check(!status.error().message.empty(), "a file-level error without a message");
  Check(status.error().where.rfind(display_name, 0) == 0,
        "a file-level error whose where does not start with the file name");
}

}  // namespace credd::fuzz
