// From a name in incoming/ to a report in done/ or rejected/: claim the file, identify it
// (SHA-256, format), import it with the BatchProcessor, and move it with its reports.
// Files found in processing/ (a crash, a database outage) are resumed the same way.
// Reports are written before the file moves, so a file in done/ or rejected/ always has
// one. A folder credd cannot use is logged and recorded as a condition (credctl status).
// Thread contract: one FileIntake per worker thread; FolderProblems() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>

#include "common/log.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "daemon/config/config.h"
#include "daemon/pipeline/batch_processor.h"
#include "daemon/pipeline/issuing_pipeline.h"
#include "daemon/watch/claim.h"

namespace credd {

class FileIntake {
 public:
  FileIntake(Database& database, Logger& log, ProcessOptions options);

  // Claims and imports incoming/<name> of the institution. OK when the file was handled
  // (done, rejected, refused), is not ready yet, or its folder cannot be used (logged and
  // recorded); kUnavailable when the database went away (the file waits in processing/
  // for ResumeProcessing).
  Status TakeIncoming(const Config& config, const InstitutionConfig& institution,
                      const std::string& name);

  // Imports every file in the institution's processing/ folder. A file that fails for any
  // reason but the database is rejected with a report; the others are still resumed. An
  // error when a file is still there (it cannot be moved: a full disk), to try again later.
  Status ResumeProcessing(const Config& config, const InstitutionConfig& institution);

  // Every ready file in incoming/ now (at start and for --once): no settle time, but files
  // still open for writing are left alone.
  Status TakeAllIncoming(const Config& config, const InstitutionConfig& institution);

  // Issues documents for the institution's credentials that have none (after each file,
  // and at start). Does nothing without a pipeline (no signing key configured).
  Status IssuePending(const InstitutionConfig& institution);

  // The renderer that checks records and the pipeline that issues documents after each
  // stored file; null = records are not checked for printability / documents are not issued.
  void SetDocuments(const Renderer* renderer, IssuingPipeline* issuing) {
    processor_.SetRenderer(renderer);
    issuing_ = issuing;
  }

  // How many institutions have drop folders credd cannot use right now.
  int FolderProblems() const { return folder_problems_.load(); }

 private:
  Status ImportClaimed(const std::string& dir, const InstitutionConfig& institution,
                       const std::string& processing_name, const std::string& dropped_name,
                       UniqueFd file, ReadyCheck ready_check, bool resuming);
  // Moves <from>/<name> into done/ or rejected/ (by the report's status), writing its
  // reports first under the name it will have there.
  Status MoveWithReport(const std::string& dir, const std::string& from, const std::string& name,
                        const std::string& preferred_name, BatchReport report);
  Status Refuse(const std::string& dir, const InstitutionConfig& institution,
                const std::string& from, const std::string& name, const std::string& preferred_name,
                const std::string& reason);
  // Files and records by outcome, and the time the file took.
  void Count(const InstitutionConfig& institution, const BatchReport& report,
             Clock::SteadyTime::duration took);
  void FolderFailed(const InstitutionConfig& institution, const std::string& problem);
  void FolderWorks(const InstitutionConfig& institution);

  Database& database_;
  Logger& log_;
  const Clock& clock_;
  CreddMetrics* metrics_;
  BatchProcessor processor_;
  IssuingPipeline* issuing_ = nullptr;
  std::set<std::string> failing_folders_;  // Institutions with a recorded folder problem.
  std::atomic<int> folder_problems_{0};
};

}  // namespace credd
