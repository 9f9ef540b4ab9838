// The one interface every input format implements, and the one table that lists them.
// An importer streams: it hands each record to the sink as soon as it is complete, so
// memory does not grow with the file.
// Thread contract: an Importer object is used by one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "importers/formats.h"
#include "importers/import_options.h"
#include "records/record.h"

namespace credd {

// Receives what an importer reads, in file order.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // A syntactically complete record. Returns false to make the importer stop early
  // (shutdown, or a reject_file policy that has seen enough).
  virtual bool OnRecord(CredentialRecord record) = 0;
  // A record that could not be read (bad encoding, wrong column count, missing element).
  // Returns false to stop early.
  virtual bool OnError(RecordError error) = 0;
  // Something tolerated but worth telling staff (lenient PESC parsing). Never stops.
  virtual void OnWarning(RecordError warning) = 0;
};

struct ImportInput {
  std::string path;          // File on disk (for pdf-manifest: a .zip, or a folder).
  std::string display_name;  // Name used in messages ("x.csv").
  // When >= 0, the already open file to read (the daemon's claimed descriptor; borrowed):
  // importers read it through OpenImportFile, from its start, and never reopen `path`.
  int fd = -1;
};

class Importer {
 public:
  virtual ~Importer() = default;
  // Reads the whole input, calling the sink per record. Returns an error (kData, with
  // `where` = "<display_name>[:line[:col]]") when the file as a whole is unusable: not
  // UTF-8 where required, malformed XML, a DTD, a zip with unsafe entries, ... Records
  // handed to the sink before that stay handed.
  virtual Status Read(const ImportInput& input, RecordSink& sink) = 0;
};

// One row of the importer table: a format of kFormats and what reads it.
struct ImporterEntry {
  Format format;
  std::string_view description;  // One line for `credctl import --help`.
  std::unique_ptr<Importer> (*make)(const ImportOptions& options);
};

// Every importer credd has, one per format, in one table (importers/importers.cpp).
const std::vector<ImporterEntry>& ImporterTable();

// The importer of a format (every format has one).
const ImporterEntry& FindImporter(Format format);

// The format named `name` (as config and credctl --format write it), or kUsage listing
// the known names.
Result<Format> ParseFormat(std::string_view name);

// The format a dropped file is in, from its name: .csv/.txt -> csv, .xml -> pesc,
// .zip -> pdf-manifest. kData when the extension says nothing we read.
Result<Format> FormatForFileName(std::string_view file_name);

}  // namespace credd
