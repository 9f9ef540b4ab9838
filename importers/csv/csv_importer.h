// Reads a CSV SIS extract (RFC 4180, UTF-8 or a configured legacy encoding) one row at a
// time and hands each row to the sink as a CredentialRecord, or as a RecordError naming the
// physical line, byte offset and field that made it unusable.
// Thread contract: a CsvImporter holds no state between calls; each Read() is independent.
#pragma once

#include <cstddef>
#include <utility>

#include "importers/importer.h"

namespace credd {

class CsvImporter : public Importer {
 public:
  // Bytes read from the file per read(2) call.
  static constexpr std::size_t kChunkBytes = 64 * 1024;
  // The longest field accepted, in bytes after unquoting; longer fields reject their row.
  static constexpr std::size_t kMaxFieldBytes = 64 * 1024;
  // The most columns a header may have; more means the file is not an SIS extract.
  static constexpr std::size_t kMaxColumns = 1024;

  explicit CsvImporter(CsvOptions options = {}) : options_(std::move(options)) {}

  Status Read(const ImportInput& input, RecordSink& sink) override;

 private:
  CsvOptions options_;
};

}  // namespace credd
