#include "daemon/pipeline/file_intake.h"

#include <sys/stat.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "common/file_name.h"
#include "common/folder.h"
#include "daemon/store/conditions.h"
#include "importers/importer.h"

namespace credd {
namespace {

std::string ReadyCheckName(ReadyCheck check) {
  return check == ReadyCheck::kSettleTime ? "settle_time" : "lease";
}

}  // namespace

FileIntake::FileIntake(Database& database, Logger& log, ProcessOptions options)
    : database_(database),
      log_(log),
      clock_(*options.clock),
      metrics_(options.metrics),
      processor_(&database, log, std::move(options)) {}

void FileIntake::FolderFailed(const InstitutionConfig& institution, const std::string& problem) {
  // Every failure is logged at error level; the condition is recorded once per episode.
  log_.Error("intake.folder_failed", {{"institution", institution.id}, {"error", problem}});
  if (!failing_folders_.insert(institution.id).second) return;  // Recorded already.
  folder_problems_ = failing_folders_.size();
  if (auto conn = database_.Connect()) {
    (void)SetCondition(**conn, institution.id, ConditionKind::kDropFolder, problem);
  }
}

void FileIntake::FolderWorks(const InstitutionConfig& institution) {
  if (failing_folders_.erase(institution.id) == 0) return;
  folder_problems_ = failing_folders_.size();
  log_.Info("intake.folder_recovered", {{"institution", institution.id}});
  if (auto conn = database_.Connect()) {
    (void)ClearCondition(**conn, institution.id, ConditionKind::kDropFolder);
  }
}

Status FileIntake::TakeIncoming(const Config& config, const InstitutionConfig& institution,
                                const std::string& name) {
  const std::string dir = config.DropDirFor(institution);
  ClaimOptions options;
  options.settle_time = std::chrono::seconds(config.settle_seconds);
  options.clock = &clock_;
  ClaimResult claim = ClaimFile(dir, name, options);
  switch (claim.kind) {
    case ClaimResult::Kind::kGone:
    case ClaimResult::Kind::kNotReady:
      if (!claim.reason.empty()) {
        log_.Debug("intake.not_taken", {{"institution", institution.id},
                                        {"file", NameAsText(name)},
                                        {"reason", claim.reason}});
      }
      return Status::Ok();
    case ClaimResult::Kind::kFailed:
      FolderFailed(institution, claim.reason);
      return Status::Ok();  // The file stays in incoming/; the rescan tries again.
    case ClaimResult::Kind::kRefused:
      log_.Warn(
          "intake.refused",
          {{"institution", institution.id}, {"file", NameAsText(name)}, {"reason", claim.reason}});
      return Refuse(dir, institution, "incoming", name, claim.name, claim.reason);
    case ClaimResult::Kind::kClaimed:
      break;
  }
  FolderWorks(institution);
  log_.Info("intake.claimed", {{"institution", institution.id},
                               {"file", NameAsText(name)},
                               {"ready_check", ReadyCheckName(claim.ready_check)}});
  return ImportClaimed(dir, institution, claim.name, name, std::move(claim.file), claim.ready_check,
                       false);
}

Status FileIntake::Refuse(const std::string& dir, const InstitutionConfig& institution,
                          const std::string& from, const std::string& name,
                          const std::string& preferred_name, const std::string& reason) {
  BatchReport report;
  report.file = NameAsText(name);
  report.institution_id = institution.id;
  report.status = BatchStatus::kRejected;
  report.reason = reason;
  report.received_at = report.finished_at = clock_.NowIso8601();
  Count(institution, report, Clock::SteadyTime::duration::zero());
  return MoveWithReport(dir, from, name, preferred_name, std::move(report));
}

Status FileIntake::ResumeProcessing(const Config& config, const InstitutionConfig& institution) {
  const std::string dir = config.DropDirFor(institution);
  auto names = ListFolder(dir + "/processing");
  if (!names) return names.error();
  std::optional<Error> unfinished;  // The first file left in processing/, if any.
  for (const std::string& name : *names) {
    if (IsIgnoredName(name)) continue;
    log_.Info("intake.resume", {{"institution", institution.id}, {"file", NameAsText(name)}});
    Result<UniqueFd> file = OpenClaimedFile(dir + "/processing/" + name);
    Status s;
    if (!file && file.error().code == ErrorCode::kData) {
      // Something put there by hand, or swapped in after the claim: never read.
      s = Refuse(dir, institution, "processing", name, "", "refused: " + file.error().message);
    } else if (!file) {
      s = file.error();
    } else {
      s = ImportClaimed(dir, institution, name, name, std::move(file).value(), ReadyCheck::kLease,
                        true);
    }
    // Only a database outage stops the resume; any other failure is that file's alone (a
    // full disk, say), and the resume is tried again later for it.
    if (!s && s.error().code == ErrorCode::kUnavailable) return s;
    if (!s) {
      log_.Error("intake.resume_failed", {{"institution", institution.id},
                                          {"file", NameAsText(name)},
                                          {"error", s.error().ToString()}});
      if (!unfinished) unfinished = s.error();
    }
  }
  if (unfinished) return *unfinished;
  return Status::Ok();
}

Status FileIntake::TakeAllIncoming(const Config& config, const InstitutionConfig& institution) {
  auto names = ListFolder(config.DropDirFor(institution) + "/incoming");
  if (!names) return names.error();
  for (const std::string& name : *names) {
    if (IsIgnoredName(name)) continue;
    if (Status s = TakeIncoming(config, institution, name); !s) return s;
  }
  return Status::Ok();
}

Status FileIntake::ImportClaimed(const std::string& dir, const InstitutionConfig& institution,
                                 const std::string& processing_name,
                                 const std::string& dropped_name, UniqueFd file,
                                 ReadyCheck ready_check, bool resuming) {
  const std::string shown = NameAsText(dropped_name);
  const Clock::SteadyTime started = clock_.Steady();
  ProcessInput input;
  input.institution = &institution;
  input.path = dir + "/processing/" + processing_name;  // For messages; the fd is read.
  input.fd = file.get();
  input.display_name = shown;
  input.resuming = resuming;

  auto sha256 = Sha256OfFd(file.get(), shown);
  auto format = FormatForFileName(dropped_name);
  std::string refusal;
  if (!format) {
    refusal = format.error().message;
  } else if (std::find(institution.formats.begin(), institution.formats.end(), *format) ==
             institution.formats.end()) {
    refusal = "format '" + std::string(kFormats.Name(*format)) +
              "' is not enabled for institution " + institution.id;
  }
  if (format) input.format = *format;

  Result<BatchReport> report = MakeError(ErrorCode::kInternal, "not run");
  if (!sha256) {
    report = sha256.error();
  } else {
    input.sha256 = *sha256;
    report = refusal.empty() ? processor_.Process(input) : processor_.Reject(input, refusal);
  }
  if (!report && report.error().code == ErrorCode::kUnavailable) {
    if (metrics_ != nullptr) metrics_->files.With({institution.id, "retry"}).Add();
    log_.Error("intake.failed", {{"institution", institution.id},
                                 {"file", shown},
                                 {"error", report.error().ToString()},
                                 {"action", "left in processing/ to resume"}});
    return report.error();
  }
  if (!report) {
    // Not an outage: retrying cannot help, and staff must hear about it. The batch (if
    // any) stays open, so dropping the same file again resumes it once the cause is fixed.
    log_.Error("intake.failed", {{"institution", institution.id},
                                 {"file", shown},
                                 {"error", report.error().ToString()},
                                 {"action", "rejected with a report"}});
    BatchReport failed;
    failed.file = shown;
    failed.institution_id = institution.id;
    failed.sha256 = sha256 ? *sha256 : "";
    failed.format = FormatName(input.format);
    failed.status = BatchStatus::kRejected;
    failed.reason = "credd could not finish this file: " + report.error().ToString() +
                    ". Records stored before the error stay stored; drop the same file again "
                    "to resume it once the cause is fixed.";
    failed.received_at = failed.finished_at = clock_.NowIso8601();
    report = std::move(failed);
  }
  report->ready_check = ReadyCheckName(ready_check);
  Count(institution, *report, clock_.Steady() - started);
  file.Reset();
  if (Status s = MoveWithReport(dir, "processing", processing_name, "", std::move(report).value());
      !s) {
    return s;
  }
  // Documents are derived from the committed credentials; a failure here leaves them
  // pending for the next run, the file is already reported.
  if (Status s = IssuePending(institution); !s) {
    log_.Error("documents.pending",
               {{"institution", institution.id}, {"error", s.error().ToString()}});
    return s;
  }
  return Status::Ok();
}

void FileIntake::Count(const InstitutionConfig& institution, const BatchReport& report,
                       Clock::SteadyTime::duration took) {
  if (metrics_ == nullptr) return;
  const std::string& id = institution.id;
  metrics_->files.With({id, std::string(kBatchStatuses.Name(report.status))}).Add();
  metrics_->records.With({id, "accepted"}).Add(static_cast<double>(report.counts.accepted));
  metrics_->records.With({id, "rejected"}).Add(static_cast<double>(report.counts.rejected));
  metrics_->records.With({id, "duplicate"}).Add(static_cast<double>(report.counts.duplicates));
  metrics_->batch_duration.With({id}).Observe(std::chrono::duration<double>(took).count());
}

Status FileIntake::MoveWithReport(const std::string& dir, const std::string& from,
                                  const std::string& name, const std::string& preferred_name,
                                  BatchReport report) {
  const std::string to = report.status == BatchStatus::kRejected ? "rejected" : "done";
  const std::string folder = dir + "/" + to;
  const std::string file_text = report.file;
  // The reports are written under the name the file will have, before it moves: a crash in
  // between leaves the file where it was (and it is handled again), never a file without
  // its report. Reports left by such a crash are recognised and written over.
  auto write_reports = [&](const std::string& target) -> Result<bool> {
    struct stat st {};
    if (::lstat((folder + "/" + target).c_str(), &st) == 0) return false;  // Name taken.
    const std::string target_text = NameAsText(target);
    report.stored_as = target_text != file_text ? target_text : "";
    auto ours = ReportsAreFor(folder, target, report);
    if (!ours) return ours.error();
    if (*ours == ReportSlot::kTaken) return false;
    return WriteReports(report, folder, target, *ours == ReportSlot::kFree);
  };
  auto moved = MoveBetween(dir, from, name, to, preferred_name, write_reports);
  if (!moved) {
    if (moved.error().code != ErrorCode::kNoInput) {
      log_.Error("intake.move_failed",
                 {{"folder", NameAsText(folder)}, {"error", moved.error().ToString()}});
    }
    return moved.error();
  }
  log_.Info("intake.reported", {{"institution", report.institution_id},
                                {"file", NameAsText(*moved)},
                                {"status", std::string(kBatchStatuses.Name(report.status))},
                                {"folder", to}});
  return Status::Ok();
}

Status FileIntake::IssuePending(const InstitutionConfig& institution) {
  if (issuing_ == nullptr) return Status::Ok();
  auto issued = issuing_->IssuePending(database_, institution);
  if (!issued) return issued.error();
  if (*issued > 0) {
    log_.Info("documents.issued",
              {{"institution", institution.id}, {"count", std::to_string(*issued)}});
  }
  return Status::Ok();
}

}  // namespace credd
