#include "daemon/pipeline/file_intake.h"

#include <dirent.h>

#include <algorithm>
#include <vector>

#include "daemon/watch/claim.h"
#include "importers/importer.h"

namespace credd {
namespace {

Result<std::vector<std::string>> ListNames(const std::string& folder) {
  DIR* dir = ::opendir(folder.c_str());
  if (dir == nullptr) return MakeError(ErrorCode::kIo, "cannot list the folder", folder);
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());  // Oldest-named first is as good an order as any.
  return names;
}

}  // namespace

FileIntake::FileIntake(Database& database, Logger& log, ProcessOptions options)
    : database_(database), log_(log), processor_(&database, log, std::move(options)) {}

Status FileIntake::TakeIncoming(const Config& config, const InstitutionConfig& institution,
                                const std::string& name) {
  const std::string dir = config.DropDirFor(institution);
  ClaimResult claim = ClaimFile(dir, name);
  switch (claim.kind) {
    case ClaimResult::Kind::kGone:
    case ClaimResult::Kind::kNotReady:
      if (!claim.reason.empty()) {
        log_.Debug("intake.not_taken",
                   {{"institution", institution.id}, {"file", name}, {"reason", claim.reason}});
      }
      return Status::Ok();
    case ClaimResult::Kind::kRefused: {
      BatchReport report;
      report.file = name;
      if (claim.name != name) report.stored_as = claim.name;
      report.institution_id = institution.id;
      report.status = "rejected";
      report.reason = claim.reason;
      report.received_at = report.finished_at = NowIso8601();
      log_.Warn("intake.refused",
                {{"institution", institution.id}, {"file", name}, {"reason", claim.reason}});
      return WriteReports(report, dir + "/rejected", claim.name);
    }
    case ClaimResult::Kind::kClaimed:
      break;
  }
  log_.Info("intake.claimed", {{"institution", institution.id}, {"file", name}});
  return ImportClaimed(dir, institution, claim.name, name, false);
}

Status FileIntake::ResumeProcessing(const Config& config, const InstitutionConfig& institution) {
  const std::string dir = config.DropDirFor(institution);
  auto names = ListNames(dir + "/processing");
  if (!names) return names.error();
  for (const std::string& name : *names) {
    if (IsIgnoredName(name)) continue;
    log_.Info("intake.resume", {{"institution", institution.id}, {"file", name}});
    if (Status s = ImportClaimed(dir, institution, name, name, true); !s) return s;
  }
  return Status::Ok();
}

Status FileIntake::TakeAllIncoming(const Config& config, const InstitutionConfig& institution) {
  auto names = ListNames(config.DropDirFor(institution) + "/incoming");
  if (!names) return names.error();
  for (const std::string& name : *names) {
    if (IsIgnoredName(name)) continue;
    if (Status s = TakeIncoming(config, institution, name); !s) return s;
  }
  return Status::Ok();
}

Status FileIntake::ImportClaimed(const std::string& dir, const InstitutionConfig& institution,
                                 const std::string& processing_name,
                                 const std::string& display_name, bool resuming) {
  const std::string path = dir + "/processing/" + processing_name;
  auto sha256 = Sha256OfFile(path);
  if (!sha256) return sha256.error();

  ProcessInput input;
  input.institution = &institution;
  input.path = path;
  input.display_name = display_name;
  input.sha256 = *sha256;
  input.resuming = resuming;

  auto format = FormatForFileName(display_name);
  std::string refusal;
  if (!format) {
    refusal = format.error().message;
  } else if (std::find(institution.formats.begin(), institution.formats.end(), *format) ==
             institution.formats.end()) {
    refusal = "format '" + *format + "' is not enabled for institution " + institution.id;
  }
  input.format = format ? *format : "unknown";

  Result<BatchReport> report =
      refusal.empty() ? processor_.Process(input) : processor_.Reject(input, refusal);
  if (!report) {
    log_.Error("intake.failed", {{"institution", institution.id},
                                 {"file", display_name},
                                 {"error", report.error().ToString()},
                                 {"action", "left in processing/ to resume"}});
    return report.error();
  }
  if (Status s = Finish(dir, processing_name, std::move(report).value()); !s) return s;
  // Documents are derived from the committed credentials; a failure here leaves them
  // pending for the next run, the file is already reported.
  if (Status s = IssuePending(institution); !s) {
    log_.Error("documents.pending",
               {{"institution", institution.id}, {"error", s.error().ToString()}});
    return s;
  }
  return Status::Ok();
}

Status FileIntake::Finish(const std::string& dir, const std::string& processing_name,
                          BatchReport report) {
  const std::string target = report.status == "rejected" ? "rejected" : "done";
  auto moved = MoveBetween(dir, "processing", processing_name, target);
  if (!moved) return moved.error();
  if (*moved != report.file) report.stored_as = *moved;
  if (Status s = WriteReports(report, dir + "/" + target, *moved); !s) return s;
  log_.Info("intake.reported", {{"institution", report.institution_id},
                                {"file", *moved},
                                {"status", report.status},
                                {"folder", target}});
  return Status::Ok();
}

Status FileIntake::IssuePending(const InstitutionConfig& institution) {
  if (issuer_ == nullptr) return Status::Ok();
  auto conn = database_.Connect();
  if (!conn) return conn.error();
  auto issued = issuer_->IssuePending(**conn, institution);
  if (!issued) return issued.error();
  if (*issued > 0) {
    log_.Info("documents.issued",
              {{"institution", institution.id}, {"count", std::to_string(*issued)}});
  }
  return Status::Ok();
}

}  // namespace credd
