#include "daemon/store/batch_store.h"

#include <openssl/evp.h>

#include "common/json_quote.h"
#include "daemon/store/database.h"
#include "daemon/store/internal/audit.h"
#include "daemon/store/internal/pq.h"

namespace credd {
namespace {

constexpr const char* kBatchColumns =
    "id, institution_id, sha256, file_name, format, status, "
    "to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "coalesce(duplicate_of, 0), records_processed, total, accepted, rejected, duplicates, "
    "coalesce(error_message, '')";

const std::string kSelectRealBatch = std::string("SELECT ") + kBatchColumns +
                                     " FROM batches WHERE institution_id = $1 AND sha256 = $2 "
                                     "AND duplicate_of IS NULL FOR UPDATE";
const std::string kSelectBatchById =
    std::string("SELECT ") + kBatchColumns + " FROM batches WHERE id = $1";
const std::string kInsertBatch =
    std::string(
        "INSERT INTO batches (institution_id, sha256, file_name, format, error_policy, "
        "received_at) VALUES ($1, $2, $3, $4, $5, $6::timestamptz) "
        "ON CONFLICT (institution_id, sha256) WHERE duplicate_of IS NULL DO NOTHING RETURNING ") +
    kBatchColumns;
const std::string kInsertDuplicate =
    std::string(
        "INSERT INTO batches (institution_id, sha256, file_name, format, status, duplicate_of, "
        "total, duplicates, error_policy, received_at, finished_at) "
        "VALUES ($1, $2, $3, $4, 'duplicate', $5, $6, $6, $7, $8::timestamptz, $8::timestamptz) "
        "RETURNING ") +
    kBatchColumns;

constexpr const char* kStoreChunk =
    "SELECT ordinal, outcome, version FROM credd_store_chunk($1, $2, $3::jsonb, $4::jsonb, $5, "
    "$6, $7, $8, $9)";
constexpr const char* kFinishBatch =
    "UPDATE batches SET status = $2, error_message = NULLIF($3, ''), finished_at = now() "
    "WHERE id = $1 RETURNING institution_id, total, accepted, rejected, duplicates";
constexpr const char* kSelectErrors =
    "SELECT line, coalesce(col, 0), field, message, severity = 'warning' FROM batch_errors "
    "WHERE batch = $1 ORDER BY line, id";

BatchRow ReadBatch(const pqxx::row& row) {
  BatchRow b;
  b.id = row[0].as<int64_t>();
  b.institution_id = row[1].as<std::string>();
  b.sha256 = row[2].as<std::string>();
  b.file_name = row[3].as<std::string>();
  b.format = row[4].as<std::string>();
  b.status = ParseStored(kBatchStatuses, row[5]);
  b.received_at = row[6].as<std::string>();
  b.duplicate_of = row[7].as<int64_t>();
  b.records_processed = row[8].as<int>();
  b.counts.total = row[9].as<int>();
  b.counts.accepted = row[10].as<int>();
  b.counts.rejected = row[11].as<int>();
  b.counts.duplicates = row[12].as<int>();
  b.error_message = row[13].as<std::string>();
  return b;
}

std::string Base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace

BatchCounts& BatchCounts::operator+=(const BatchCounts& other) {
  total += other.total;
  accepted += other.accepted;
  rejected += other.rejected;
  duplicates += other.duplicates;
  return *this;
}

Result<BatchStart> BeginBatch(Store& store, const ArrivingFile& file) {
  const std::string policy(kRecordErrorPolicies.Name(file.error_policy));
  const std::string& institution_id = file.institution_id;
  const std::string& sha256 = file.sha256;
  const std::string& file_name = file.file_name;
  const std::string& format = file.format;
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::work txn(conn);
    BatchStart start;
    pqxx::result found = txn.exec_params(kSelectRealBatch, institution_id, sha256);
    if (found.empty()) {
      pqxx::result inserted = txn.exec_params(kInsertBatch, institution_id, sha256, file_name,
                                              format, policy, file.received_at);
      if (inserted.empty()) {
        // Another process inserted the same content between our SELECT and INSERT; its row
        // is visible now that the conflict has been resolved.
        found = txn.exec_params(kSelectRealBatch, institution_id, sha256);
      } else {
        start.kind = BatchStart::Kind::kNew;
        start.batch = ReadBatch(inserted[0]);
        AppendAudit(txn, {"credd",
                          institution_id,
                          "batch.received",
                          "batch:" + std::to_string(start.batch.id),
                          {{"file", file_name}, {"sha256", sha256}, {"format", format}}});
        txn.commit();
        return start;
      }
    }
    BatchRow original = ReadBatch(found[0]);
    if (original.status == BatchStatus::kProcessing) {
      start.kind = BatchStart::Kind::kResume;
      start.batch = original;
      txn.commit();
      return start;
    }
    if (file.resuming) {
      start.kind = BatchStart::Kind::kAlreadyFinished;
      start.batch = original;
      txn.commit();
      return start;
    }
    pqxx::result dup =
        txn.exec_params(kInsertDuplicate, institution_id, sha256, file_name, format, original.id,
                        original.counts.total, policy, file.received_at);
    start.kind = BatchStart::Kind::kDuplicate;
    start.batch = ReadBatch(dup[0]);
    start.original = original;
    AppendAudit(txn, {"credd",
                      institution_id,
                      "batch.duplicate",
                      "batch:" + std::to_string(start.batch.id),
                      {{"file", file_name}, {"duplicate_of", original.id}}});
    txn.commit();
    return start;
  } catch (const std::exception& e) {
    return PqError("starting the batch for " + file_name, e);
  }
}

Status LockBatchContent(Store& store, const std::string& institution_id,
                        const std::string& sha256) {
  try {
    pqxx::nontransaction txn(Pq(store));
    txn.exec_params("SELECT pg_advisory_lock(hashtextextended($1, 0))",
                    institution_id + ":" + sha256);
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("locking the batch of " + sha256, e);
  }
}

struct ChunkWriter::Transaction {
  explicit Transaction(pqxx::connection& conn) : work(conn) {}
  pqxx::work work;
};

ChunkWriter::ChunkWriter(Store& store, const BatchRow& batch, std::string actor, InviteMode invite)
    : store_(store), batch_(batch), actor_(std::move(actor)), invite_(invite) {}

ChunkWriter::~ChunkWriter() {
  if (txn_) {
    try {
      txn_->work.abort();
    } catch (const std::exception&) {
      // The connection is already gone, which rolls the transaction back by itself.
    }
  }
}

void ChunkWriter::Add(int ordinal, const CredentialRecord& record,
                      const std::string& credential_key, const std::string& content_sha256,
                      const std::string& data_json) {
  std::string item = "{\"ordinal\": " + std::to_string(ordinal) +
                     ", \"line\": " + std::to_string(record.line) +
                     ", \"student_id\": " + JsonQuote(record.student_id) +
                     ", \"family_name\": " + JsonQuote(record.family_name) +
                     ", \"given_names\": " + JsonQuote(record.given_names) +
                     ", \"birth_date\": " + JsonQuote(record.birth_date) +
                     ", \"email\": " + JsonQuote(record.email) +
                     ", \"personal_email\": " + JsonQuote(record.personal_email) +
                     ", \"locale\": " + JsonQuote(record.preferred_locale) +
                     ", \"kind\": " + JsonQuote(record.credential_type) +
                     ", \"key\": " + JsonQuote(credential_key) +
                     ", \"title\": " + JsonQuote(record.credential_title) +
                     ", \"program\": " + JsonQuote(record.program) +
                     ", \"issued_on\": " + JsonQuote(record.issued_on) +
                     ", \"content_sha256\": " + JsonQuote(content_sha256) +
                     ", \"source_document_id\": " + JsonQuote(record.source_document_id) +
                     ", \"data\": " + data_json;
  if (!record.pdf_bytes.empty()) item += ", \"source_pdf\": \"" + Base64(record.pdf_bytes) + "\"";
  item += "}";
  if (!records_.empty()) records_ += ",";
  buffered_bytes_ += item.size();
  records_ += std::move(item);
  ++record_count_;
}

void ChunkWriter::AddError(const RecordError& error, bool warning) {
  std::string item =
      "{\"line\": " + std::to_string(error.line) + ", \"column\": " + std::to_string(error.column) +
      ", \"field\": " + JsonQuote(error.field) + ", \"message\": " + JsonQuote(error.message) +
      ", \"severity\": \"" + (warning ? "warning" : "error") + "\"}";
  if (!errors_.empty()) errors_ += ",";
  buffered_bytes_ += item.size();
  errors_ += std::move(item);
}

Result<ChunkOutcome> ChunkWriter::Flush(int records_processed, int total, int rejected) {
  ChunkOutcome outcome;
  try {
    if (!txn_) txn_ = std::make_unique<Transaction>(Pq(store_));
    pqxx::result rows = txn_->work.exec_params(kStoreChunk, batch_.id, actor_, "[" + records_ + "]",
                                               "[" + errors_ + "]", records_processed, total,
                                               rejected, invite_ != InviteMode::kNone,
                                               invite_ == InviteMode::kInvitationsAndNotices);
    for (const pqxx::row& row : rows) {
      std::string kind = row[1].as<std::string>();
      if (kind == "stored") {
        ++outcome.stored;
      } else if (kind == "unchanged") {
        ++outcome.unchanged;
      } else {
        ++outcome.duplicates_in_file;
      }
    }
  } catch (const std::exception& e) {
    txn_.reset();
    return PqError("storing a chunk of batch " + std::to_string(batch_.id), e);
  }
  records_.clear();
  errors_.clear();
  record_count_ = 0;
  buffered_bytes_ = 0;
  return outcome;
}

Result<ChunkOutcome> ChunkWriter::Commit(int records_processed, int total, int rejected) {
  Result<ChunkOutcome> outcome = Flush(records_processed, total, rejected);
  if (!outcome) return outcome;
  try {
    txn_->work.commit();
    txn_.reset();
  } catch (const std::exception& e) {
    txn_.reset();
    return PqError("committing a chunk of batch " + std::to_string(batch_.id), e);
  }
  return outcome;
}

Status FinishBatch(Store& store, int64_t batch_id, BatchStatus status,
                   const std::string& error_message, const std::string& actor) {
  pqxx::connection& conn = Pq(store);
  const std::string word(kBatchStatuses.Name(status));
  try {
    pqxx::work txn(conn);
    pqxx::row row = txn.exec_params1(kFinishBatch, batch_id, word, error_message);
    nlohmann::json details = {{"total", row[1].as<int64_t>()},
                              {"accepted", row[2].as<int64_t>()},
                              {"rejected", row[3].as<int64_t>()},
                              {"duplicates", row[4].as<int64_t>()}};
    if (!error_message.empty()) details["reason"] = error_message;
    AppendAudit(txn, {actor, row[0].as<std::string>(), "batch." + word,
                      "batch:" + std::to_string(batch_id), std::move(details)});
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("finishing batch " + std::to_string(batch_id), e);
  }
}

Result<BatchRow> LoadBatch(Store& store, int64_t batch_id) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::read_transaction txn(conn);
    pqxx::result r = txn.exec_params(kSelectBatchById, batch_id);
    if (r.empty()) {
      return MakeError(ErrorCode::kNoInput, "no such batch", "batch " + std::to_string(batch_id));
    }
    return ReadBatch(r[0]);
  } catch (const std::exception& e) {
    return PqError("reading batch " + std::to_string(batch_id), e);
  }
}

Result<std::vector<BatchRow>> ListBatches(Store& store, const std::string& institution_id,
                                          int limit, int64_t before) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::read_transaction txn(conn);
    pqxx::result r = txn.exec_params(
        std::string("SELECT ") + kBatchColumns +
            " FROM batches WHERE ($1 = '' OR institution_id = $1) AND ($2 = 0 OR id < $2) "
            "ORDER BY id DESC LIMIT $3",
        institution_id, before, limit);
    std::vector<BatchRow> rows;
    for (const auto& row : r) rows.push_back(ReadBatch(row));
    return rows;
  } catch (const std::exception& e) {
    return PqError("listing batches", e);
  }
}

Result<std::vector<StoredRecordError>> LoadBatchErrors(Store& store, int64_t batch_id) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::read_transaction txn(conn);
    std::vector<StoredRecordError> errors;
    for (const pqxx::row& row : txn.exec_params(kSelectErrors, batch_id)) {
      StoredRecordError e;
      e.error.line = row[0].as<int>();
      e.error.column = row[1].as<int>();
      e.error.field = row[2].as<std::string>();
      e.error.message = row[3].as<std::string>();
      e.warning = row[4].as<bool>();
      errors.push_back(std::move(e));
    }
    return errors;
  } catch (const std::exception& e) {
    return PqError("reading the errors of batch " + std::to_string(batch_id), e);
  }
}

}  // namespace credd
