// Imports one file: finds or starts its batch, reads it with the importer for its format,
// validates each record, stores accepted ones in chunks (one transaction per chunk), and
// returns the report. The same code serves the daemon and `credctl import`; without a
// database (`--dry-run`) it parses and validates only.
//
// Two passes over the file: the first parses and validates without storing, so a file
// that is broken as a whole (malformed XML, a bad zip), or that a reject_file institution
// must refuse, stores nothing; the second stores. Parsing is cheap next to storing.
// Thread contract: one BatchProcessor per thread.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "common/clock.h"
#include "common/heartbeat.h"
#include "common/log.h"
#include "common/result.h"
#include "daemon/config/config.h"
#include "daemon/metrics/credd_metrics.h"
#include "daemon/pipeline/report.h"
#include "daemon/render/renderer.h"
#include "daemon/store/database.h"
#include "records/record.h"

namespace credd {

struct ProcessOptions {
  int chunk_size = 500;         // Records per transaction under accept_valid.
  std::string actor = "credd";  // Who stores, for audit events.
  // The clock reports and "issued_on is in the future" read (tests pin it).
  const Clock* clock = &SystemClock();
  std::string today;  // ISO date for "issued_on is in the future"; empty = the clock's (UTC).
  const std::atomic<bool>* stop = nullptr;  // Set on shutdown: finish the chunk and return.
  Heartbeat* heartbeat = nullptr;           // Beaten per record, for the watchdog.
  // When set, a record the document fonts cannot print (or of a kind with no template) is
  // rejected in the report, not discovered when its document is issued.
  const Renderer* renderer = nullptr;
  // Dry runs only: called for each accepted record (credctl import --dry-run --out renders
  // and signs it); an error rejects the record with that message.
  std::function<Status(const CredentialRecord&)> on_accepted;
  CreddMetrics* metrics = nullptr;  // Files and records by outcome (FileIntake counts them).
};

// A format's name for reports and logs; "unknown" when it was never identified.
inline std::string FormatName(const std::optional<Format>& format) {
  return format ? std::string(kFormats.Name(*format)) : "unknown";
}

struct ProcessInput {
  const InstitutionConfig* institution = nullptr;
  std::string path;              // The file to read (in processing/ for the daemon).
  int fd = -1;                   // When >= 0, the claimed file itself (borrowed): read, not path.
  std::string display_name;      // The name staff gave it.
  std::optional<Format> format;  // Empty when the file's name says nothing credd reads.
  std::string sha256;            // Of the content.
  bool resuming = false;  // Found in processing/ at start: a finished batch is not a duplicate.
};

class BatchProcessor {
 public:
  // `database` may be null: then every run is a dry run.
  BatchProcessor(Database* database, Logger& log, ProcessOptions options);

  // kUnavailable when the database went away mid-file (the file stays where it is and is
  // resumed later); kInternal for bugs. A rejected file is a successful run whose report
  // says "rejected".
  Result<BatchReport> Process(const ProcessInput& input);

  // Parses and validates only; stores nothing.
  Result<BatchReport> DryRun(const ProcessInput& input);

  // The renderer used to check that records can be printed (null: not checked).
  void SetRenderer(const Renderer* renderer) { options_.renderer = renderer; }

  // Records the file as a rejected batch without reading it (unknown or disabled format).
  Result<BatchReport> Reject(const ProcessInput& input, const std::string& reason);

 private:
  Database* database_;
  Logger& log_;
  struct Run;  // One file's batch on its way through; see batch_processor.cpp.
  Result<BatchReport> CheckAndStore(Run& run);
  Result<BatchReport> DuplicateReport(Run& run);
  Result<BatchReport> RejectBatch(Run& run, const std::string& reason,
                                  const std::vector<RecordError>& errors,
                                  const std::vector<RecordError>& warnings, BatchCounts counts);
  Result<BatchReport> CloseBatch(Run& run);
  Result<BatchReport> FinishReport(Run& run);
  bool Stopping() const { return options_.stop != nullptr && options_.stop->load(); }
  ArrivingFile Arriving(const ProcessInput& input) const;
  // The date a record's issued_on may not pass: asked per file, as the daemon runs for days.
  std::string Today() const;

  ProcessOptions options_;
};

// Hex SHA-256 of a file's content, read in blocks. kNoInput when it cannot be read, or
// is not a regular file (a link is not followed, a FIFO never waited on).
Result<std::string> Sha256OfFile(const std::string& path);
// The same for an open descriptor (read with pread, from the start); `where` names it.
Result<std::string> Sha256OfFd(int fd, const std::string& where);

}  // namespace credd
