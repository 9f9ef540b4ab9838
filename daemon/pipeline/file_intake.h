// From a name in incoming/ to a report in done/ or rejected/: claim the file, identify it
// (SHA-256, format), import it with the BatchProcessor, move it, and write its reports.
// Files found in processing/ (a crash, a database outage) are resumed the same way.
// Thread contract: one FileIntake per worker thread.
#pragma once

#include <string>

#include "common/log.h"
#include "common/result.h"
#include "daemon/config/config.h"
#include "daemon/pipeline/batch_processor.h"
#include "daemon/pipeline/document_issuer.h"

namespace credd {

class FileIntake {
 public:
  FileIntake(Database& database, Logger& log, ProcessOptions options);

  // Claims and imports incoming/<name> of the institution. OK when the file was handled
  // (done, rejected, refused) or is not ready yet; kUnavailable when the database went away
  // (the file waits in processing/ for ResumeProcessing).
  Status TakeIncoming(const Config& config, const InstitutionConfig& institution,
                      const std::string& name);

  // Imports every file in the institution's processing/ folder.
  Status ResumeProcessing(const Config& config, const InstitutionConfig& institution);

  // Every ready file in incoming/ now (for --once): no settle time, but files still open for
  // writing are left alone.
  Status TakeAllIncoming(const Config& config, const InstitutionConfig& institution);

  // Issues documents for the institution's credentials that have none (after each file,
  // and at start). Does nothing without an issuer (no signing key configured).
  Status IssuePending(const InstitutionConfig& institution);

  // The renderer that checks records and the issuer used after each stored file; null =
  // records are not checked for printability / documents are not issued.
  void SetDocuments(const Renderer* renderer, const DocumentIssuer* issuer) {
    processor_.SetRenderer(renderer);
    issuer_ = issuer;
  }

 private:
  Status ImportClaimed(const std::string& dir, const InstitutionConfig& institution,
                       const std::string& processing_name, const std::string& display_name,
                       bool resuming);
  Status Finish(const std::string& dir, const std::string& processing_name, BatchReport report);

  Database& database_;
  Logger& log_;
  BatchProcessor processor_;
  const DocumentIssuer* issuer_ = nullptr;
};

}  // namespace credd
