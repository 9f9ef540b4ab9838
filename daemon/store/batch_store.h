// Batches and the records they bring: the SQL side of ingestion. A batch is found or created
// by the SHA-256 of its content; records are written in chunks, one transaction each, that
// also advance the batch's records_processed, so a crash resumes exactly where the last
// committed chunk ended. Uniqueness constraints make a retried chunk harmless.
// Thread contract: a ChunkWriter uses its caller's connection from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/config/config.h"
#include "daemon/store/states.h"
#include "daemon/store/store.h"
#include "records/record.h"

namespace credd {

struct BatchCounts {
  int total = 0;       // Records read (accepted + rejected + duplicates).
  int accepted = 0;    // Stored as a new credential or a new version.
  int rejected = 0;    // Failed validation or could not be read.
  int duplicates = 0;  // Identical to the credential already stored: skipped as unchanged.

  BatchCounts& operator+=(const BatchCounts& other);
};

struct BatchRow {
  int64_t id = 0;
  std::string institution_id;
  std::string sha256;
  std::string file_name;
  std::string format;
  BatchStatus status = BatchStatus::kProcessing;
  std::string received_at;  // ISO 8601 UTC.
  int64_t duplicate_of = 0;
  int records_processed = 0;
  BatchCounts counts;
  std::string error_message;  // Why the whole file was rejected.
};

struct BatchStart {
  enum class Kind {
    kNew,              // First time this content is seen: a fresh batch row, status processing.
    kResume,           // A batch for this content is still processing (a crash): continue it.
    kDuplicate,        // This content was already imported: a duplicate row was recorded.
    kAlreadyFinished,  // Resuming a file whose batch had finished: nothing to do again.
  };
  Kind kind = Kind::kNew;
  BatchRow batch;     // The row to work on (for kDuplicate: the new duplicate row).
  BatchRow original;  // For kDuplicate: the batch first imported with this content.
};

// Waits for, then holds until the Store is closed, the lock that lets one importer at a
// time work on this content (institution, sha256), across processes: a second drop of the
// same bytes waits here, then finds the first batch finished. The lock belongs to the
// connection, so a killed process releases it with its connection.
Status LockBatchContent(Store& store, const std::string& institution_id, const std::string& sha256);

// A file arriving: what BeginBatch needs to find or start its batch.
struct ArrivingFile {
  std::string institution_id;
  std::string sha256;  // Of the content.
  std::string file_name;
  std::string format;
  RecordErrorPolicy error_policy = RecordErrorPolicy::kAcceptValid;
  // Found in processing/ after a crash: "already imported" is then kAlreadyFinished (the
  // crash came after the batch finished but before the file was moved), not a duplicate.
  bool resuming = false;
  std::string received_at;  // ISO 8601 UTC, from the caller's clock.
};

// Finds or creates the batch for (institution, sha256). Race-safe across processes: the
// partial unique index decides, and the loser re-reads.
Result<BatchStart> BeginBatch(Store& store, const ArrivingFile& file);

// What one committed (or flushed) chunk did.
struct ChunkOutcome {
  int stored = 0;              // New credentials or new versions.
  int unchanged = 0;           // Same content as the active version: skipped.
  int duplicates_in_file = 0;  // A second row for a credential this batch already stored.
};

// One chunk of records for a batch, sent to the database in one round trip (the
// credd_store_chunk function) so that a million-row file is not six million round trips.
// Add/AddError buffer; Flush sends the buffer inside the open transaction; Commit flushes,
// advances the batch and commits. Destroying an uncommitted writer rolls back.
// Whether storing a credential also queues an email (the outbox, same transaction).
enum class InviteMode {
  kNone,                   // Invitations are off for this institution.
  kInvitations,            // Invite students who have not activated.
  kInvitationsAndNotices,  // ... and tell activated students about new documents.
};

class ChunkWriter {
 public:
  // `actor` names who writes, for the audit events ("credd", "credctl:alice").
  ChunkWriter(Store& store, const BatchRow& batch, std::string actor,
              InviteMode invite = InviteMode::kNone);
  ~ChunkWriter();
  ChunkWriter(const ChunkWriter&) = delete;
  ChunkWriter& operator=(const ChunkWriter&) = delete;

  // Buffers a validated record with its identity (see daemon/pipeline/record_identity.h).
  void Add(int ordinal, const CredentialRecord& record, const std::string& credential_key,
           const std::string& content_sha256, const std::string& data_json);
  // Buffers a rejected record or a warning for batch_errors.
  void AddError(const RecordError& error, bool warning);
  // Bytes buffered so far: callers flush early when PDFs make records large.
  size_t buffered_bytes() const { return buffered_bytes_; }
  size_t buffered_records() const { return record_count_; }

  // Sends what is buffered, within the transaction. `total` and `rejected` are the counts of
  // records read and rejected by validation since the last flush.
  Result<ChunkOutcome> Flush(int records_processed, int total, int rejected);
  // Flushes and commits.
  Result<ChunkOutcome> Commit(int records_processed, int total, int rejected);

 private:
  struct Transaction;  // The open pqxx::work; see batch_store.cpp.
  Store& store_;
  BatchRow batch_;
  std::string actor_;
  InviteMode invite_;
  std::unique_ptr<Transaction> txn_;
  std::string records_;  // JSON array elements, comma-separated.
  std::string errors_;
  size_t record_count_ = 0;
  size_t buffered_bytes_ = 0;
};

// Marks a batch finished (done or rejected), with the file-level reason if any, and writes
// the batch.<status> audit event.
Status FinishBatch(Store& store, int64_t batch_id, BatchStatus status,
                   const std::string& error_message, const std::string& actor);

// A stored error or warning of a batch, as the report prints it.
struct StoredRecordError {
  RecordError error;
  bool warning = false;
};

Result<BatchRow> LoadBatch(Store& store, int64_t batch_id);
// The newest batches first (of one institution, or of all when institution_id is empty),
// at most `limit`, and only those with an id below `before` when it is not 0 (the next page).
Result<std::vector<BatchRow>> ListBatches(Store& store, const std::string& institution_id,
                                          int limit, int64_t before = 0);
Result<std::vector<StoredRecordError>> LoadBatchErrors(Store& store, int64_t batch_id);

}  // namespace credd
