// Documents (signed PDFs) and signing keys: the SQL side of issuing, verifying, revoking
// and exporting. A document is never altered once stored; only its status changes.
// Thread contract: functions use the caller's connection.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/store/states.h"
#include "daemon/store/store.h"

namespace credd {

// An active credential that has no document yet.
struct PendingCredential {
  int64_t id = 0;
  std::string institution_id;
  std::string student_id;
  std::string kind;
  std::string credential_key;
  std::string locale;
  std::string data_json;   // credentials.data: what the document shows.
  std::string source_pdf;  // pdf-manifest: the institution's PDF; empty otherwise.
  std::string source_ref;  // "<file>:<line>" of the record, for messages.
  int64_t student = 0;
};

Result<std::vector<PendingCredential>> LoadPendingCredentials(Store& store,
                                                              const std::string& institution_id,
                                                              int limit);
// The credential behind a document (for reissue).
Result<PendingCredential> LoadCredential(Store& store, int64_t credential_id);

struct NewDocument {
  std::string public_id;  // UUID printed on the PDF.
  int64_t credential = 0;
  std::string locale;
  std::string sha256;  // Of pdf.
  std::string pdf;     // Signed bytes.
  std::string key_id;
  std::string issued_at;  // ISO 8601 UTC.
};

// Stores a document for its credential in one transaction: the credential's (or, for a new
// credential version, its predecessors') active document becomes superseded and is named
// in `supersedes`; an audit event records it. Returns the new row id.
Result<int64_t> StoreDocument(Store& store, const NewDocument& document, const std::string& actor);

// Pending credentials claimed for issuing, a chunk at a time. The rows are locked (FOR
// UPDATE SKIP LOCKED) by a transaction that stays open while they are rendered and signed,
// until Commit stores all their documents, or the chunk goes (rolled back): another credd
// on the database skips them meanwhile, each credential is signed once, and a crash redoes
// at most this chunk. Thread contract: the chunk uses its Store's connection, which must
// outlive it and run nothing else until it is committed or gone.
class PendingChunk {
 public:
  // Up to `limit` of the institution's active credentials without a document whose id is
  // above `after_id`, in id order, leaving out any another transaction holds. A run passes
  // the last id it claimed, so each claim reads only what is new (not every credential
  // issued so far, which made a long run quadratic), and what failed stays behind it.
  static Result<std::unique_ptr<PendingChunk>> Claim(Store& store,
                                                     const std::string& institution_id, int limit,
                                                     int64_t after_id = 0);
  ~PendingChunk();
  PendingChunk(const PendingChunk&) = delete;
  PendingChunk& operator=(const PendingChunk&) = delete;

  const std::vector<PendingCredential>& credentials() const { return credentials_; }

  // A statement in the open transaction, so that a chunk still being signed (a slow
  // timestamp authority) is not ended by idle_in_transaction_session_timeout.
  Status KeepAlive();

  // Stores the documents (for claimed credentials; any subset) with a few set-based
  // statements, superseding each one's predecessor and writing one audit event each, and
  // commits. Returns the new document ids, in the order given.
  Result<std::vector<int64_t>> Commit(const std::vector<NewDocument>& documents,
                                      const std::string& actor);

 private:
  struct Transaction;  // The open pqxx::work; see document_store.cpp.
  PendingChunk(std::unique_ptr<Transaction> txn, std::vector<PendingCredential> credentials);
  std::unique_ptr<Transaction> txn_;
  std::vector<PendingCredential> credentials_;
};

struct DocumentRow {
  int64_t id = 0;
  std::string public_id;
  int64_t credential = 0;
  DocumentStatus status = DocumentStatus::kActive;
  std::string revoked_reason;
  std::string sha256;
  std::string key_id;
  std::string issued_at;
  std::string institution_id;
  std::string student_id;
  std::string kind;
  std::string title;
  std::string locale;
};

// What public verification tells about a stored document: the row, whom it is for, and what
// has happened to it since it was issued.
struct DocumentStanding {
  DocumentRow document;
  std::string student_name;   // "Given Family", as the document shows it.
  std::string revoked_at;     // ISO 8601 UTC; empty unless revoked.
  std::string superseded_by;  // Public id of the document that replaced it; empty if none.
  std::string superseded_at;  // When that one was issued.
};
// By the SHA-256 of the signed PDF, or by public id (a string that is not a UUID is simply
// not found); nothing when unknown.
Result<std::optional<DocumentStanding>> FindStandingBySha256(Store& store,
                                                             const std::string& sha256);
Result<std::optional<DocumentStanding>> FindStandingByPublicId(Store& store,
                                                               const std::string& public_id);

// By numeric id or public UUID; kNoInput when there is none.
Result<DocumentRow> FindDocument(Store& store, const std::string& id);
// By the SHA-256 of the signed PDF; nothing when unknown.
Result<std::optional<DocumentRow>> FindDocumentBySha256(Store& store, const std::string& sha256);
Result<std::string> LoadDocumentPdf(Store& store, int64_t document_id);
// Revokes an active or superseded document, with an audit event. kData when already revoked.
Status RevokeDocument(Store& store, int64_t document_id, const std::string& reason,
                      const std::string& actor);

// A document as `credctl import --export` writes it out.
struct ExportedDocument {
  std::string student_id;
  std::string kind;
  std::string public_id;
  std::string pdf;
};
using DocumentVisitor = std::function<Status(const ExportedDocument&)>;
// Calls `visit` for each active document of the batch's credentials, in id order, reading a
// few hundred at a time so memory stays flat. Stops at, and returns, visit's first error.
Status VisitBatchDocuments(Store& store, int64_t batch_id, const DocumentVisitor& visit);

struct SigningKeyRow {
  std::string key_id;
  std::string certificates_pem;
  std::string subject;
  std::string key_reference;
  std::string not_before;
  std::string not_after;
  std::string status;  // active, retired.
  std::string added_at;
  std::string retired_at;
};

// Registers a key (or refreshes its reference). make_active retires the previously active
// key in the same transaction. Audit-logged when anything changes.
Status RegisterSigningKey(Store& store, const SigningKeyRow& key, bool make_active,
                          const std::string& actor);
Result<std::vector<SigningKeyRow>> ListSigningKeys(Store& store);

}  // namespace credd
