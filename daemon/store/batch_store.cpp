#include "daemon/store/batch_store.h"

#include "daemon/store/database.h"

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
        "INSERT INTO batches (institution_id, sha256, file_name, format, error_policy) "
        "VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (institution_id, sha256) WHERE duplicate_of IS NULL DO NOTHING RETURNING ") +
    kBatchColumns;
const std::string kInsertDuplicate =
    std::string(
        "INSERT INTO batches (institution_id, sha256, file_name, format, status, duplicate_of, "
        "total, duplicates, error_policy, finished_at) "
        "VALUES ($1, $2, $3, $4, 'duplicate', $5, $6, $6, $7, now()) RETURNING ") +
    kBatchColumns;
constexpr const char* kInsertAudit =
    "INSERT INTO audit_events (actor, institution_id, event, subject, details) "
    "VALUES ($1, $2, $3, $4, $5::jsonb)";

// Prepared statements of the per-record path, which runs a million times for a big file.
constexpr const char* kUpsertStudentName = "credd_upsert_student";
constexpr const char* kUpsertStudent =
    "INSERT INTO students (institution_id, student_id, family_name, given_names, birth_date, "
    "preferred_locale) VALUES ($1, $2, $3, $4, NULLIF($5, '')::date, $6) "
    "ON CONFLICT (institution_id, student_id) DO UPDATE SET family_name = EXCLUDED.family_name, "
    "given_names = EXCLUDED.given_names, "
    "birth_date = coalesce(EXCLUDED.birth_date, students.birth_date), "
    "preferred_locale = EXCLUDED.preferred_locale, updated_at = now() RETURNING id";
constexpr const char* kAddEmailName = "credd_add_email";
constexpr const char* kAddEmail =
    "INSERT INTO student_emails (student, kind, address, is_primary) "
    "SELECT $1, $2, $3, NOT EXISTS (SELECT 1 FROM student_emails "
    "WHERE student = $1 AND is_primary) "
    "ON CONFLICT (student, address) DO NOTHING";
constexpr const char* kActiveCredentialName = "credd_active_credential";
constexpr const char* kActiveCredential =
    "SELECT id, version, content_sha256, batch, source_line FROM credentials "
    "WHERE student = $1 AND credential_key = $2 AND status = 'active' FOR UPDATE";
constexpr const char* kMaxVersionName = "credd_max_version";
constexpr const char* kMaxVersion =
    "SELECT coalesce(max(version), 0) FROM credentials WHERE student = $1 AND credential_key = $2";
constexpr const char* kSupersedeName = "credd_supersede";
constexpr const char* kSupersede =
    "UPDATE credentials SET status = 'superseded', updated_at = now() WHERE id = $1";
constexpr const char* kInsertCredentialName = "credd_insert_credential";
constexpr const char* kInsertCredential =
    "INSERT INTO credentials (student, batch, kind, credential_key, title, program, issued_on, "
    "locale, data, content_sha256, version, supersedes, source_document_id, source_pdf, "
    "source_line) VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, '')::date, $8, $9::jsonb, $10, "
    "$11, NULLIF($12, 0), $13, $14, $15) RETURNING id";
constexpr const char* kAuditName = "credd_audit";
constexpr const char* kInsertErrorName = "credd_batch_error";
constexpr const char* kInsertError =
    "INSERT INTO batch_errors (batch, line, col, field, message, severity) "
    "VALUES ($1, $2, NULLIF($3, 0), $4, $5, $6)";
constexpr const char* kAdvanceBatch =
    "UPDATE batches SET total = total + $2, accepted = accepted + $3, rejected = rejected + $4, "
    "duplicates = duplicates + $5, records_processed = $6 WHERE id = $1";
constexpr const char* kFinishBatch =
    "UPDATE batches SET status = $2, error_message = NULLIF($3, ''), finished_at = now() "
    "WHERE id = $1 RETURNING institution_id, total, accepted, rejected, duplicates";
constexpr const char* kSelectErrors =
    "SELECT line, coalesce(col, 0), field, message, severity = 'warning' FROM batch_errors "
    "WHERE batch = $1 ORDER BY id";

BatchRow ReadBatch(const pqxx::row& row) {
  BatchRow b;
  b.id = row[0].as<int64_t>();
  b.institution_id = row[1].as<std::string>();
  b.sha256 = row[2].as<std::string>();
  b.file_name = row[3].as<std::string>();
  b.format = row[4].as<std::string>();
  b.status = row[5].as<std::string>();
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

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

void PrepareRecordStatements(pqxx::connection& conn) {
  // Re-preparing an identical definition on the same connection is a no-op in libpqxx 6.
  conn.prepare(kUpsertStudentName, kUpsertStudent);
  conn.prepare(kAddEmailName, kAddEmail);
  conn.prepare(kActiveCredentialName, kActiveCredential);
  conn.prepare(kMaxVersionName, kMaxVersion);
  conn.prepare(kSupersedeName, kSupersede);
  conn.prepare(kInsertCredentialName, kInsertCredential);
  conn.prepare(kAuditName, kInsertAudit);
  conn.prepare(kInsertErrorName, kInsertError);
}

}  // namespace

BatchCounts& BatchCounts::operator+=(const BatchCounts& other) {
  total += other.total;
  accepted += other.accepted;
  rejected += other.rejected;
  duplicates += other.duplicates;
  return *this;
}

Result<BatchStart> BeginBatch(pqxx::connection& conn, const std::string& institution_id,
                              const std::string& sha256, const std::string& file_name,
                              const std::string& format, const std::string& error_policy,
                              bool resuming) {
  try {
    pqxx::work txn(conn);
    BatchStart start;
    pqxx::result found = txn.exec_params(kSelectRealBatch, institution_id, sha256);
    if (found.empty()) {
      pqxx::result inserted =
          txn.exec_params(kInsertBatch, institution_id, sha256, file_name, format, error_policy);
      if (inserted.empty()) {
        // Another process inserted the same content between our SELECT and INSERT; its row
        // is visible now that the conflict has been resolved.
        found = txn.exec_params(kSelectRealBatch, institution_id, sha256);
      } else {
        start.kind = BatchStart::Kind::kNew;
        start.batch = ReadBatch(inserted[0]);
        txn.exec_params(kInsertAudit, "credd", institution_id, "batch.received",
                        "batch:" + std::to_string(start.batch.id),
                        "{\"file\": " + JsonString(file_name) + ", \"sha256\": \"" + sha256 +
                            "\", \"format\": " + JsonString(format) + "}");
        txn.commit();
        return start;
      }
    }
    BatchRow original = ReadBatch(found[0]);
    if (original.status == "processing") {
      start.kind = BatchStart::Kind::kResume;
      start.batch = original;
      txn.commit();
      return start;
    }
    if (resuming) {
      start.kind = BatchStart::Kind::kAlreadyFinished;
      start.batch = original;
      txn.commit();
      return start;
    }
    pqxx::result dup = txn.exec_params(kInsertDuplicate, institution_id, sha256, file_name, format,
                                       original.id, original.counts.total, error_policy);
    start.kind = BatchStart::Kind::kDuplicate;
    start.batch = ReadBatch(dup[0]);
    start.original = original;
    txn.exec_params(kInsertAudit, "credd", institution_id, "batch.duplicate",
                    "batch:" + std::to_string(start.batch.id),
                    "{\"file\": " + JsonString(file_name) +
                        ", \"duplicate_of\": " + std::to_string(original.id) + "}");
    txn.commit();
    return start;
  } catch (const std::exception& e) {
    return PqError("starting the batch for " + file_name, e);
  }
}

ChunkWriter::ChunkWriter(pqxx::connection& conn, const BatchRow& batch, std::string actor)
    : conn_(conn), batch_(batch), actor_(std::move(actor)) {}

ChunkWriter::~ChunkWriter() {
  if (txn_) {
    try {
      txn_->abort();
    } catch (const std::exception&) {
      // The connection is already gone, which rolls the transaction back by itself.
    }
  }
}

Result<StoreOutcome> ChunkWriter::Store(const CredentialRecord& record,
                                        const std::string& credential_key,
                                        const std::string& content_sha256,
                                        const std::string& data_json) {
  try {
    if (!txn_) {
      PrepareRecordStatements(conn_);
      txn_ = std::make_unique<pqxx::work>(conn_);
    }
    pqxx::work& txn = *txn_;
    int64_t student = txn.exec_prepared1(kUpsertStudentName, batch_.institution_id,
                                         record.student_id, record.family_name, record.given_names,
                                         record.birth_date, record.preferred_locale)[0]
                          .as<int64_t>();
    if (!record.email.empty()) {
      txn.exec_prepared(kAddEmailName, student, "institutional", record.email);
    }
    if (!record.personal_email.empty()) {
      txn.exec_prepared(kAddEmailName, student, "personal", record.personal_email);
    }

    StoreOutcome outcome;
    int64_t supersedes = 0;
    pqxx::result active = txn.exec_prepared(kActiveCredentialName, student, credential_key);
    if (!active.empty()) {
      const pqxx::row& row = active[0];
      if (row[3].as<int64_t>() == batch_.id) {
        outcome.kind = StoreOutcome::Kind::kDuplicateInFile;
        outcome.original_line = row[4].as<int>();
        return outcome;
      }
      if (row[2].as<std::string>() == content_sha256) {
        outcome.kind = StoreOutcome::Kind::kUnchanged;
        outcome.version = row[1].as<int>();
        return outcome;
      }
      supersedes = row[0].as<int64_t>();
      txn.exec_prepared(kSupersedeName, supersedes);
    }
    outcome.version = txn.exec_prepared1(kMaxVersionName, student, credential_key)[0].as<int>() + 1;
    pqxx::binarystring pdf(record.pdf_bytes.data(), record.pdf_bytes.size());
    int64_t credential =
        record.pdf_bytes.empty()
            ? txn.exec_prepared1(kInsertCredentialName, student, batch_.id, record.credential_type,
                                 credential_key, record.credential_title, record.program,
                                 record.issued_on, record.preferred_locale, data_json,
                                 content_sha256, outcome.version, supersedes,
                                 record.source_document_id, nullptr, record.line)[0]
                  .as<int64_t>()
            : txn.exec_prepared1(kInsertCredentialName, student, batch_.id, record.credential_type,
                                 credential_key, record.credential_title, record.program,
                                 record.issued_on, record.preferred_locale, data_json,
                                 content_sha256, outcome.version, supersedes,
                                 record.source_document_id, pdf, record.line)[0]
                  .as<int64_t>();
    std::string details = "{\"student_id\": " + JsonString(record.student_id) +
                          ", \"credential_key\": " + JsonString(credential_key) +
                          ", \"version\": " + std::to_string(outcome.version) +
                          ", \"batch\": " + std::to_string(batch_.id) +
                          ", \"line\": " + std::to_string(record.line);
    if (supersedes != 0) details += ", \"supersedes\": " + std::to_string(supersedes);
    details += "}";
    txn.exec_prepared(kAuditName, actor_, batch_.institution_id,
                      supersedes != 0 ? "credential.superseded" : "credential.created",
                      "credential:" + std::to_string(credential), details);
    return outcome;
  } catch (const std::exception& e) {
    txn_.reset();
    return PqError("storing the record at line " + std::to_string(record.line), e);
  }
}

Status ChunkWriter::AddError(const RecordError& error, bool warning) {
  try {
    if (!txn_) {
      PrepareRecordStatements(conn_);
      txn_ = std::make_unique<pqxx::work>(conn_);
    }
    txn_->exec_prepared(kInsertErrorName, batch_.id, error.line, error.column, error.field,
                        error.message, warning ? "warning" : "error");
    return Status::Ok();
  } catch (const std::exception& e) {
    txn_.reset();
    return PqError("recording an error of line " + std::to_string(error.line), e);
  }
}

Status ChunkWriter::Commit(int records_processed, const BatchCounts& delta) {
  try {
    if (!txn_) txn_ = std::make_unique<pqxx::work>(conn_);
    txn_->exec_params(kAdvanceBatch, batch_.id, delta.total, delta.accepted, delta.rejected,
                      delta.duplicates, records_processed);
    txn_->commit();
    txn_.reset();
    return Status::Ok();
  } catch (const std::exception& e) {
    txn_.reset();
    return PqError("committing a chunk of batch " + std::to_string(batch_.id), e);
  }
}

Status FinishBatch(pqxx::connection& conn, int64_t batch_id, const std::string& status,
                   const std::string& error_message, const std::string& actor) {
  try {
    pqxx::work txn(conn);
    pqxx::row row = txn.exec_params1(kFinishBatch, batch_id, status, error_message);
    std::string details = "{\"total\": " + row[1].as<std::string>() +
                          ", \"accepted\": " + row[2].as<std::string>() +
                          ", \"rejected\": " + row[3].as<std::string>() +
                          ", \"duplicates\": " + row[4].as<std::string>();
    if (!error_message.empty()) details += ", \"reason\": " + JsonString(error_message);
    details += "}";
    txn.exec_params(kInsertAudit, actor, row[0].as<std::string>(), "batch." + status,
                    "batch:" + std::to_string(batch_id), details);
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("finishing batch " + std::to_string(batch_id), e);
  }
}

Result<BatchRow> LoadBatch(pqxx::connection& conn, int64_t batch_id) {
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

Result<std::vector<StoredRecordError>> LoadBatchErrors(pqxx::connection& conn, int64_t batch_id) {
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
