#include "daemon/pipeline/batch_processor.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <unordered_map>

#include "common/hex.h"
#include "common/sha256.h"
#include "common/time_format.h"
#include "common/unique_fd.h"
#include "daemon/pipeline/record_identity.h"
#include "daemon/store/batch_store.h"
#include "importers/importer.h"
#include "records/validate.h"

namespace credd {
namespace {

// Errors kept in memory for one report. Past this the report says how many more there
// were; the database keeps them all under accept_valid.
constexpr size_t kMaxErrorsInMemory = 100000;

const std::string kWholeFileRejected =
    "rejected as a whole: this institution accepts a file only when every record is valid";

InviteMode InviteModeFor(const InstitutionConfig& institution) {
  if (!institution.invitations.enabled) return InviteMode::kNone;
  return institution.invitations.notices ? InviteMode::kInvitationsAndNotices
                                         : InviteMode::kInvitations;
}

// Business rules, then (when a renderer is given) whether the document can be printed.
// PDFs supplied by the institution are signed as they are, so they are not rendered.
std::vector<RecordError> CheckRecord(CredentialRecord& record, const ValidationOptions& validation,
                                     const ProcessOptions& process, const std::string& file) {
  std::vector<RecordError> problems = ValidateRecord(record, validation);
  if (problems.empty() && process.renderer != nullptr && record.pdf_bytes.empty()) {
    std::string ref = file + ":" + std::to_string(record.line);
    if (Status s = process.renderer->CheckRecord(record, ref); !s) {
      // The renderer's message starts with the field ("family_name: 'ꓮ' ...").
      std::string message = s.error().message;
      std::string field;
      auto colon = message.find(": ");
      if (colon != std::string::npos && message.find(' ') > colon) {
        field = message.substr(0, colon);
        message = message.substr(colon + 2);
      }
      problems.push_back({record.line, 0, field, message});
    }
  }
  return problems;
}

// First pass: parse and validate, store nothing. Remembers the errors (bounded) when the
// caller will need them for the report, and, for a dry run, finds repeated credentials.
class ValidatingSink : public RecordSink {
 public:
  ValidatingSink(ValidationOptions options, bool keep_errors, bool find_duplicates,
                 const ProcessOptions& process, std::string file)
      : file_(std::move(file)),
        options_(std::move(options)),
        keep_errors_(keep_errors),
        find_duplicates_(find_duplicates),
        process_(process) {}

  bool OnRecord(CredentialRecord record) override {
    ++counts.total;
    std::vector<RecordError> problems = CheckRecord(record, options_, process_, file_);
    if (problems.empty() && find_duplicates_) {
      // A 64-bit hash, not the key itself, keeps a million-row dry run small; a collision
      // (about one in 10^7 at a million rows) would only misreport a duplicate.
      uint64_t key = std::hash<std::string>{}(record.student_id + '\n' + CredentialKey(record));
      auto [it, inserted] = seen_.emplace(key, record.line);
      if (!inserted) {
        problems.push_back({record.line, 0, "student_id",
                            "duplicate of line " + std::to_string(it->second) +
                                ": the same student and credential appear twice in this file"});
      }
    }
    if (!problems.empty()) {
      ++counts.rejected;
      for (RecordError& e : problems) Keep(std::move(e));
      return !Stopping();
    }
    if (process_.on_accepted) {
      if (Status s = process_.on_accepted(record); !s) {
        ++counts.rejected;
        Keep({record.line, 0, "", s.error().message});
        return !Stopping();
      }
    }
    ++counts.accepted;
    return !Stopping();
  }

  bool OnError(RecordError error) override {
    ++counts.total;
    ++counts.rejected;
    Keep(std::move(error));
    return !Stopping();
  }

  void OnWarning(RecordError warning) override {
    if (keep_errors_ && warnings.size() < kMaxErrorsInMemory)
      warnings.push_back(std::move(warning));
  }

  BatchCounts counts;
  std::vector<RecordError> errors;
  std::vector<RecordError> warnings;
  size_t errors_not_kept = 0;

 private:
  void Keep(RecordError e) {
    if (!keep_errors_) return;
    if (errors.size() < kMaxErrorsInMemory) {
      errors.push_back(std::move(e));
    } else {
      ++errors_not_kept;
    }
  }
  bool Stopping() const {
    if (process_.heartbeat != nullptr) process_.heartbeat->Beat();
    return process_.stop != nullptr && process_.stop->load();
  }

  std::string file_;
  ValidationOptions options_;
  bool keep_errors_;
  bool find_duplicates_;
  const ProcessOptions& process_;
  std::unordered_map<uint64_t, int> seen_;  // Key hash -> first line.
};

// Second pass: validate again and store, one transaction per chunk of events. Events the
// committed chunks of an earlier (crashed) run consumed are skipped by position: importers
// are deterministic, so event N of the same bytes is the same event.
class StoringSink : public RecordSink {
 public:
  // chunk_size 0: the whole file is one transaction (reject_file), flushed in pieces.
  StoringSink(Store& conn, const BatchRow& batch, const InstitutionConfig& institution,
              ValidationOptions validation, const ProcessOptions& process, int chunk_size,
              std::string file)
      : file_(std::move(file)),
        conn_(conn),
        batch_(batch),
        validation_(std::move(validation)),
        process_(process),
        chunk_size_(chunk_size),
        skip_(batch.records_processed),
        invite_(InviteModeFor(institution)),
        writer_(std::make_unique<ChunkWriter>(conn, batch, process.actor, invite_)) {}

  bool OnRecord(CredentialRecord record) override {
    if (++position_ <= skip_) return true;
    ++total_;
    std::vector<RecordError> problems = CheckRecord(record, validation_, process_, file_);
    if (!problems.empty()) {
      ++rejected_;
      for (const RecordError& e : problems) writer_->AddError(e, false);
      return Advance();
    }
    std::string data = CredentialData(record).dump();
    writer_->Add(position_, record, CredentialKey(record), Sha256Hex(data), data);
    return Advance();
  }

  bool OnError(RecordError error) override {
    if (++position_ <= skip_) return true;
    ++total_;
    ++rejected_;
    writer_->AddError(error, false);
    return Advance();
  }

  void OnWarning(RecordError warning) override {
    if (++position_ <= skip_) return;
    writer_->AddError(warning, true);
  }

  // Sends and commits what is pending. Under reject_file, a repeated credential (which only
  // the store can see) rolls the whole file back instead, and duplicate_in_file() says so.
  Status Finish() {
    if (failure_) return *failure_;
    auto flushed = writer_->Flush(position_, total_, rejected_);
    if (!flushed) return flushed.error();
    Count(*flushed);
    if (chunk_size_ == 0 && duplicates_in_file_ > 0) {
      writer_.reset();  // Rolls back everything this file stored.
      return Status::Ok();
    }
    auto committed = writer_->Commit(position_, 0, 0);
    if (!committed) return committed.error();
    return Status::Ok();
  }

  int duplicates_in_file() const { return duplicates_in_file_; }

 private:
  void Count(const ChunkOutcome& outcome) { duplicates_in_file_ += outcome.duplicates_in_file; }

  bool Advance() {
    if (process_.heartbeat != nullptr) process_.heartbeat->Beat();
    if (failure_) return false;
    ++in_chunk_;
    // PDFs make records large: a chunk also ends at a byte budget.
    bool full = writer_->buffered_bytes() >= kChunkBytes ||
                (chunk_size_ > 0 ? in_chunk_ >= chunk_size_ : in_chunk_ >= kFlushRecords);
    if (full) {
      auto outcome = chunk_size_ > 0 ? writer_->Commit(position_, total_, rejected_)
                                     : writer_->Flush(position_, total_, rejected_);
      if (!outcome) {
        failure_ = outcome.error();
        return false;
      }
      Count(*outcome);
      total_ = rejected_ = in_chunk_ = 0;
    }
    return !(process_.stop != nullptr && process_.stop->load());
  }

  static constexpr size_t kChunkBytes = 16 << 20;
  static constexpr int kFlushRecords = 500;

  std::string file_;
  Store& conn_;
  BatchRow batch_;
  ValidationOptions validation_;
  const ProcessOptions& process_;
  int chunk_size_;
  int skip_;
  int position_ = 0;
  int in_chunk_ = 0;
  int total_ = 0;     // Read since the last flush.
  int rejected_ = 0;  // Rejected by validation since the last flush.
  int duplicates_in_file_ = 0;
  InviteMode invite_;
  std::optional<Error> failure_;
  std::unique_ptr<ChunkWriter> writer_;
};

BatchReport BaseReport(const ProcessInput& input) {
  BatchReport report;
  report.file = input.display_name;
  report.institution_id = input.institution->id;
  report.sha256 = input.sha256;
  report.format = FormatName(input.format);
  return report;
}

std::string MoreErrorsNote(size_t not_kept) {
  return not_kept == 0 ? "" : " (" + std::to_string(not_kept) + " further errors not listed)";
}

}  // namespace

Result<std::string> Sha256OfFd(int fd, const std::string& where) {
  Sha256 hash;
  std::vector<char> buffer(1 << 16);
  off_t offset = 0;
  while (true) {
    // pread: the descriptor's own position is left for whoever reads it next.
    ssize_t n = ::pread(fd, buffer.data(), buffer.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError(ErrorCode::kNoInput, "cannot read", errno, where);
    if (n == 0) break;
    hash.Update(std::string_view(buffer.data(), static_cast<size_t>(n)));
    offset += n;
  }
  return hash.FinalHex();
}

Result<std::string> Sha256OfFile(const std::string& path) {
  // Never follows a link and never blocks on a FIFO: the path may name anything.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) return PosixError(ErrorCode::kNoInput, "cannot open", errno, path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return MakeError(ErrorCode::kNoInput, "not a regular file", path);
  }
  return Sha256OfFd(fd.get(), path);
}

BatchProcessor::BatchProcessor(Database* database, Logger& log, ProcessOptions options)
    : database_(database), log_(log), options_(std::move(options)) {}

ArrivingFile BatchProcessor::Arriving(const ProcessInput& input) const {
  return {input.institution->id,
          input.sha256,
          input.display_name,
          FormatName(input.format),
          input.institution->on_record_error,
          input.resuming,
          Iso8601Utc(options_.clock->Now())};
}

std::string BatchProcessor::Today() const {
  return options_.today.empty() ? options_.clock->NowIso8601().substr(0, 10) : options_.today;
}

Result<BatchReport> BatchProcessor::DryRun(const ProcessInput& input) {
  if (!input.format) return MakeError(ErrorCode::kUsage, "unknown format", input.display_name);
  const ImporterEntry* entry = &FindImporter(*input.format);
  BatchReport report = BaseReport(input);
  report.dry_run = true;
  report.received_at = options_.clock->NowIso8601();
  ValidationOptions validation{Today(), input.format != Format::kPesc,
                               input.institution->default_locale};
  ValidatingSink sink(validation, true, true, options_, input.display_name);
  std::unique_ptr<Importer> importer = entry->make({input.institution->csv});
  Status read = importer->Read({input.path, input.display_name, input.fd}, sink);
  report.counts = sink.counts;
  report.errors = std::move(sink.errors);
  report.warnings = std::move(sink.warnings);
  report.finished_at = options_.clock->NowIso8601();
  if (!read) {
    report.status = BatchStatus::kRejected;
    report.reason = read.error().ToString();
    report.counts.accepted = 0;
  } else if (input.institution->on_record_error == RecordErrorPolicy::kRejectFile &&
             report.counts.rejected > 0) {
    report.status = BatchStatus::kRejected;
    report.reason = kWholeFileRejected + MoreErrorsNote(sink.errors_not_kept);
    report.counts.accepted = 0;
  } else {
    report.status = report.counts.accepted == 0 && report.counts.rejected > 0
                        ? BatchStatus::kRejected
                        : BatchStatus::kDone;
    if (sink.errors_not_kept > 0) report.reason = MoreErrorsNote(sink.errors_not_kept);
  }
  return report;
}

Result<BatchReport> BatchProcessor::Reject(const ProcessInput& input, const std::string& reason) {
  BatchReport report = BaseReport(input);
  report.status = BatchStatus::kRejected;
  report.reason = reason;
  report.received_at = options_.clock->NowIso8601();
  if (database_ == nullptr) {
    report.dry_run = true;
    report.finished_at = report.received_at;
    return report;
  }
  auto conn = database_->Connect();
  if (!conn) return conn.error();
  auto start = BeginBatch(**conn, Arriving(input));
  if (!start) return start.error();
  report.batch_id = start->batch.id;
  report.received_at = start->batch.received_at;
  if (start->kind == BatchStart::Kind::kDuplicate) {
    report.status = BatchStatus::kDuplicate;
    report.duplicate_of = start->original.id;
    report.reason = "duplicate of batch " + std::to_string(start->original.id) + " (" +
                    std::string(kBatchStatuses.Name(start->original.status)) + "): " + reason;
  } else if (start->kind != BatchStart::Kind::kAlreadyFinished) {
    if (Status s =
            FinishBatch(**conn, start->batch.id, BatchStatus::kRejected, reason, options_.actor);
        !s) {
      return s.error();
    }
  }
  report.finished_at = options_.clock->NowIso8601();
  return report;
}

// One file's batch on its way through Process: the connection, what BeginBatch found, and
// the report filled in as it goes.
struct BatchProcessor::Run {
  const ProcessInput& input;
  const InstitutionConfig& institution;
  const ImporterEntry& importer;
  Store& conn;
  BatchStart start;
  BatchReport report;
  ValidationOptions validation;

  bool reject_file() const { return institution.on_record_error == RecordErrorPolicy::kRejectFile; }
  Status Read(RecordSink& sink) const {
    return importer.make({institution.csv})->Read({input.path, input.display_name, input.fd}, sink);
  }
};

Result<BatchReport> BatchProcessor::Process(const ProcessInput& input) {
  // Find or start the file's batch (one importer per content, across processes); a new or
  // resumed batch is then read twice: checked, then stored.
  if (database_ == nullptr) return DryRun(input);
  if (!input.format) return MakeError(ErrorCode::kUsage, "unknown format", input.display_name);
  const InstitutionConfig& institution = *input.institution;
  auto conn = database_->Connect();
  if (!conn) return conn.error();
  if (Status locked = LockBatchContent(**conn, institution.id, input.sha256); !locked) {
    return locked.error();
  }
  auto start = BeginBatch(**conn, Arriving(input));
  if (!start) return start.error();
  Run run{input,
          institution,
          FindImporter(*input.format),
          **conn,
          std::move(start).value(),
          BaseReport(input),
          {Today(), input.format != Format::kPesc, institution.default_locale}};
  run.report.batch_id = run.start.batch.id;
  run.report.received_at = run.start.batch.received_at;
  const std::string batch_id = std::to_string(run.start.batch.id);
  switch (run.start.kind) {
    case BatchStart::Kind::kDuplicate:
      return DuplicateReport(run);
    case BatchStart::Kind::kAlreadyFinished:
      log_.Info("batch.already_finished", {{"file", input.display_name}, {"batch", batch_id}});
      return FinishReport(run);
    case BatchStart::Kind::kResume:
      log_.Info("batch.resume",
                {{"file", input.display_name},
                 {"batch", batch_id},
                 {"records_processed", std::to_string(run.start.batch.records_processed)}});
      break;
    case BatchStart::Kind::kNew:
      log_.Info("batch.start", {{"file", input.display_name},
                                {"batch", batch_id},
                                {"format", FormatName(input.format)}});
      break;
  }
  return CheckAndStore(run);
}

Result<BatchReport> BatchProcessor::CheckAndStore(Run& run) {
  // Pass 1 parses and validates without storing, so a file broken as a whole, or one a
  // reject_file institution refuses, stores nothing; pass 2 stores in chunks.
  const std::string& shown = run.input.display_name;
  ProcessOptions check_options = options_;
  check_options.on_accepted = nullptr;
  ValidatingSink check(run.validation, run.reject_file(), false, check_options, shown);
  Status read = run.Read(check);
  if (Stopping()) {
    return MakeError(ErrorCode::kUnavailable, "stopped before the file was stored", shown);
  }
  if (!read) {
    return RejectBatch(run, read.error().ToString(), check.errors, check.warnings,
                       BatchCounts{check.counts.total, 0, check.counts.rejected, 0});
  }
  if (run.reject_file() && check.counts.rejected > 0) {
    return RejectBatch(run, kWholeFileRejected + MoreErrorsNote(check.errors_not_kept),
                       check.errors, check.warnings, check.counts);
  }

  // Under reject_file, the whole file is one transaction.
  StoringSink store(run.conn, run.start.batch, run.institution, run.validation, options_,
                    run.reject_file() ? 0 : options_.chunk_size, shown);
  Status second = run.Read(store);
  if (Status s = store.Finish(); !s) return s.error();
  if (run.reject_file() && store.duplicates_in_file() > 0) {
    // The store saw a repeated credential that validation alone cannot see, and rolled the
    // file back; read once more with duplicate detection in memory to list every problem.
    ValidatingSink again(run.validation, true, true, check_options, shown);
    if (Status reread = run.Read(again); !reread) return reread.error();
    return RejectBatch(run, kWholeFileRejected + MoreErrorsNote(again.errors_not_kept),
                       again.errors, again.warnings, again.counts);
  }
  if (!second) return second.error();  // The bytes changed between passes: a bug or tampering.
  if (Stopping()) {
    return MakeError(ErrorCode::kUnavailable, "stopped; the rest of the file is resumed at start",
                     shown);
  }
  return CloseBatch(run);
}

Result<BatchReport> BatchProcessor::DuplicateReport(Run& run) {
  // Nothing is stored again: the report points at the batch that first brought the bytes.
  const BatchRow& original = run.start.original;
  BatchReport& report = run.report;
  report.status = BatchStatus::kDuplicate;
  report.duplicate_of = original.id;
  report.counts = run.start.batch.counts;
  report.reason = "duplicate: the same content was received as batch " +
                  std::to_string(original.id) + " ('" + original.file_name + "', " +
                  original.received_at + ", " + std::string(kBatchStatuses.Name(original.status)) +
                  "); nothing was stored again and no email will be sent";
  report.finished_at = options_.clock->NowIso8601();
  log_.Info("batch.duplicate", {{"file", run.input.display_name},
                                {"batch", std::to_string(run.start.batch.id)},
                                {"duplicate_of", std::to_string(original.id)}});
  return report;
}

Result<BatchReport> BatchProcessor::RejectBatch(Run& run, const std::string& reason,
                                                const std::vector<RecordError>& errors,
                                                const std::vector<RecordError>& warnings,
                                                BatchCounts counts) {
  // Stores the file's errors (and no record) and closes the batch as rejected.
  ChunkWriter writer(run.conn, run.start.batch, options_.actor);
  for (const RecordError& e : errors) writer.AddError(e, false);
  for (const RecordError& w : warnings) writer.AddError(w, true);
  const BatchCounts& already = run.start.batch.counts;
  auto committed =
      writer.Commit(counts.total, counts.total - already.total, counts.rejected - already.rejected);
  if (!committed) return committed.error();
  if (Status s =
          FinishBatch(run.conn, run.start.batch.id, BatchStatus::kRejected, reason, options_.actor);
      !s) {
    return s.error();
  }
  log_.Warn("batch.rejected", {{"file", run.input.display_name},
                               {"batch", std::to_string(run.start.batch.id)},
                               {"reason", reason}});
  return FinishReport(run);
}

Result<BatchReport> BatchProcessor::CloseBatch(Run& run) {
  // Every record is stored or rejected: done, or rejected when not one was accepted.
  auto row = LoadBatch(run.conn, run.start.batch.id);
  if (!row) return row.error();
  const BatchStatus status =
      row->counts.accepted == 0 && row->counts.duplicates == 0 && row->counts.rejected > 0
          ? BatchStatus::kRejected
          : BatchStatus::kDone;
  std::string reason =
      status == BatchStatus::kRejected ? "no record in this file could be accepted" : "";
  if (Status s = FinishBatch(run.conn, run.start.batch.id, status, reason, options_.actor); !s) {
    return s.error();
  }
  log_.Info("batch.finished", {{"file", run.input.display_name},
                               {"batch", std::to_string(run.start.batch.id)},
                               {"status", std::string(kBatchStatuses.Name(status))},
                               {"accepted", std::to_string(row->counts.accepted)},
                               {"rejected", std::to_string(row->counts.rejected)},
                               {"duplicates", std::to_string(row->counts.duplicates)}});
  return FinishReport(run);
}

Result<BatchReport> BatchProcessor::FinishReport(Run& run) {
  // The report as the database has the batch: its status, counts, errors and warnings.
  auto row = LoadBatch(run.conn, run.start.batch.id);
  if (!row) return row.error();
  auto errors = LoadBatchErrors(run.conn, run.start.batch.id);
  if (!errors) return errors.error();
  BatchReport& report = run.report;
  report.status = row->status;
  report.counts = row->counts;
  if (report.reason.empty()) report.reason = row->error_message;
  report.finished_at = options_.clock->NowIso8601();
  for (StoredRecordError& e : *errors) {
    (e.warning ? report.warnings : report.errors).push_back(std::move(e.error));
  }
  return report;
}

}  // namespace credd
