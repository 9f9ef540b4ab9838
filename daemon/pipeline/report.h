// The report written beside each file in done/ or rejected/: `<file>.report.txt` for
// registrar staff (their whole view of what happened) and `<file>.report.json` for scripts
// (DESIGN.md Interfaces: file, sha256, format, status, records, errors).
// Thread contract: plain values and pure functions, except WriteReports and
// RemoveStaleReportTemps (files).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/store/batch_store.h"
#include "records/record.h"

namespace credd {

struct BatchReport {
  // Names are text (NameAsText of the bytes on disk), so any name can be shown and stored.
  std::string file;        // The name staff gave the file.
  std::string stored_as;   // Its name in done/ or rejected/ when that differs.
  std::string report_for;  // Set when the reports' own name is shortened: the file's name.
  std::string ready_check = "lease";  // How it was judged finished: lease or settle_time.
  std::string institution_id;
  std::string sha256;                       // Empty for refused non-regular files.
  std::string format;                       // csv, pesc, pdf-manifest, or "" when never identified.
  BatchStatus status = BatchStatus::kDone;  // done, rejected or duplicate.
  std::string reason;    // Why the whole file was rejected, or what it duplicates.
  int64_t batch_id = 0;  // 0 when no batch was recorded (dry run, refused file).
  int64_t duplicate_of = 0;
  bool dry_run = false;
  std::string received_at;  // ISO 8601 UTC.
  std::string finished_at;  // ISO 8601 UTC.
  BatchCounts counts;
  std::vector<RecordError> errors;
  std::vector<RecordError> warnings;
};

nlohmann::json ReportJson(const BatchReport& report);
std::string ReportText(const BatchReport& report);

// Writes `<dir>/<name>.report.txt` and `.report.json`, each through a temporary file and a
// rename, so a reader never sees half a report. The temporary file is created with
// O_EXCL|O_NOFOLLOW, so nothing planted in a shared folder is ever written through. When
// `name` is too long to take the suffix within NAME_MAX, the reports go under
// ReportBaseName(name) and state the full name. kIo naming the file on failure.
Status WriteReports(const BatchReport& report, const std::string& dir, const std::string& name);
// The same; with `exclusive`, false (nothing written) when reports for `name` exist already.
Result<bool> WriteReports(const BatchReport& report, const std::string& dir,
                          const std::string& name, bool exclusive);

// The name reports for `name` are written under: `name` itself, or, when `name` plus
// ".report.json" would pass the 255-byte limit, its start and "~" and 8 hex digits of its
// SHA-256.
std::string ReportBaseName(const std::string& name);

// Whether reports for the file `name` may be written in `dir` for this report: kFree when
// there are none, kOurs when the ones there describe the same file (same name, content and
// institution: a run interrupted between writing them and moving the file), kTaken
// otherwise. kIo when the folder cannot be read.
enum class ReportSlot { kFree, kOurs, kTaken };
Result<ReportSlot> ReportsAreFor(const std::string& dir, const std::string& name,
                                 const BatchReport& report);

// The temporary files WriteReports leaves in `dir` when its process dies between creating
// one and renaming it (SIGKILL, a power cut): hidden regular files `.credd-<16 hex>.tmp`.
// Removes those last changed more than `min_age` ago (a younger one may be another credd's
// on the same share, being written now) and returns their names. Nothing else is touched.
// kIo when the folder cannot be read.
Result<std::vector<std::string>> RemoveStaleReportTemps(const std::string& dir,
                                                        std::chrono::seconds min_age);

}  // namespace credd
