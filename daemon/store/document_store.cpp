#include "daemon/store/document_store.h"

#include <cctype>
#include <map>
#include <set>

#include "daemon/store/database.h"
#include "daemon/store/internal/audit.h"
#include "daemon/store/internal/pq.h"

namespace credd {
namespace {

constexpr const char* kPendingCredentials =
    "SELECT c.id, s.institution_id, s.student_id, c.kind, c.credential_key, c.locale, "
    "c.data::text, coalesce(c.source_pdf, ''::bytea), b.file_name || ':' || c.source_line, "
    "s.id FROM credentials c JOIN students s ON s.id = c.student "
    "JOIN batches b ON b.id = c.batch "
    "WHERE s.institution_id = $1 AND c.status = 'active' "
    "AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.credential = c.id) "
    "ORDER BY c.id LIMIT $2";
// A chunk of them, locked for issuing.
constexpr const char* kClaimChunk =
    "SELECT c.id, s.institution_id, s.student_id, c.kind, c.credential_key, c.locale, "
    "c.data::text, coalesce(c.source_pdf, ''::bytea), b.file_name || ':' || c.source_line, "
    "s.id FROM credentials c JOIN students s ON s.id = c.student "
    "JOIN batches b ON b.id = c.batch "
    "WHERE s.institution_id = $1 AND c.status = 'active' AND c.id > $3 "
    "AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.credential = c.id) "
    "ORDER BY c.id LIMIT $2 FOR UPDATE OF c SKIP LOCKED";
constexpr const char* kHaveDocuments =
    "SELECT DISTINCT credential FROM documents WHERE credential = ANY($1::bigint[])";
// The active documents of these credentials or of any earlier version of them.
constexpr const char* kSupersedeChunk =
    "UPDATE documents d SET status = 'superseded', updated_at = now() "
    "FROM credentials c, credentials mine "
    "WHERE mine.id = ANY($1::bigint[]) AND c.student = mine.student "
    "AND c.credential_key = mine.credential_key AND d.credential = c.id AND d.status = 'active' "
    "RETURNING d.id, mine.id";
constexpr const char* kCredentialById =
    "SELECT c.id, s.institution_id, s.student_id, c.kind, c.credential_key, c.locale, "
    "c.data::text, coalesce(c.source_pdf, ''::bytea), b.file_name || ':' || c.source_line, "
    "s.id FROM credentials c JOIN students s ON s.id = c.student "
    "JOIN batches b ON b.id = c.batch WHERE c.id = $1";
// The active document of this credential or of any earlier version of it.
constexpr const char* kSupersedePrevious =
    "UPDATE documents d SET status = 'superseded', updated_at = now() "
    "FROM credentials c, credentials mine "
    "WHERE mine.id = $1 AND c.student = mine.student AND c.credential_key = mine.credential_key "
    "AND d.credential = c.id AND d.status = 'active' RETURNING d.id";
constexpr const char* kInsertDocument =
    "INSERT INTO documents (public_id, credential, version, supersedes, status, sha256, pdf, "
    "key_id, issued_at, locale) "
    "SELECT $1::uuid, $2, coalesce(max(version), 0) + 1, NULLIF($3, 0), 'active', $4, $5, $6, "
    "$7::timestamptz, $8 FROM documents WHERE credential = $2 RETURNING id";
constexpr const char* kDocumentColumns =
    "d.id, d.public_id::text, d.credential, d.status, coalesce(d.revoked_reason, ''), d.sha256, "
    "d.key_id, to_char(d.issued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "s.institution_id, s.student_id, c.kind, c.title, d.locale";
const std::string kDocumentFrom =
    " FROM documents d JOIN credentials c ON c.id = d.credential "
    "JOIN students s ON s.id = c.student ";
constexpr const char* kRevoke =
    "UPDATE documents SET status = 'revoked', revoked_reason = $2, revoked_at = now(), "
    "updated_at = now() WHERE id = $1 AND status <> 'revoked' RETURNING credential";
constexpr const char* kKeyColumns =
    "key_id, certificates_pem, subject, key_reference, "
    "to_char(not_before AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "to_char(not_after AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), status, "
    "to_char(added_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "coalesce(to_char(retired_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')";

PendingCredential ReadPending(const pqxx::row& row) {
  PendingCredential p;
  p.id = row[0].as<int64_t>();
  p.institution_id = row[1].as<std::string>();
  p.student_id = row[2].as<std::string>();
  p.kind = row[3].as<std::string>();
  p.credential_key = row[4].as<std::string>();
  p.locale = row[5].as<std::string>();
  p.data_json = row[6].as<std::string>();
  pqxx::binarystring pdf(row[7]);
  p.source_pdf = pdf.str();
  p.source_ref = row[8].as<std::string>();
  p.student = row[9].as<int64_t>();
  return p;
}

DocumentRow ReadDocument(const pqxx::row& row) {
  DocumentRow d;
  d.id = row[0].as<int64_t>();
  d.public_id = row[1].as<std::string>();
  d.credential = row[2].as<int64_t>();
  d.status = ParseStored(kDocumentStatuses, row[3]);
  d.revoked_reason = row[4].as<std::string>();
  d.sha256 = row[5].as<std::string>();
  d.key_id = row[6].as<std::string>();
  d.issued_at = row[7].as<std::string>();
  d.institution_id = row[8].as<std::string>();
  d.student_id = row[9].as<std::string>();
  d.kind = row[10].as<std::string>();
  d.title = row[11].as<std::string>();
  d.locale = row[12].as<std::string>();
  return d;
}

bool IsNumber(const std::string& text) {
  if (text.empty() || text.size() > 18) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The supersede, insert and audit steps of storing a document, inside the caller's
// transaction. Returns the new row id.
int64_t InsertDocument(pqxx::work& txn, const NewDocument& document, const std::string& actor) {
  int64_t supersedes = 0;
  for (const pqxx::row& row : txn.exec_params(kSupersedePrevious, document.credential)) {
    supersedes = row[0].as<int64_t>();
  }
  pqxx::binarystring pdf(document.pdf.data(), document.pdf.size());
  int64_t id = txn.exec_params1(kInsertDocument, document.public_id, document.credential,
                                supersedes, document.sha256, pdf, document.key_id,
                                document.issued_at, document.locale)[0]
                   .as<int64_t>();
  nlohmann::json details = {
      {"document", document.public_id}, {"sha256", document.sha256}, {"key_id", document.key_id}};
  if (supersedes != 0) details["supersedes"] = supersedes;
  AppendCredentialAudit(
      txn, {actor, "", "document.issued", "document:" + std::to_string(id), std::move(details)},
      document.credential);
  return id;
}

}  // namespace

struct PendingChunk::Transaction {
  explicit Transaction(pqxx::connection& conn) : work(conn) {}
  pqxx::work work;
};

PendingChunk::PendingChunk(std::unique_ptr<Transaction> txn,
                           std::vector<PendingCredential> credentials)
    : txn_(std::move(txn)), credentials_(std::move(credentials)) {}

PendingChunk::~PendingChunk() = default;  // Uncommitted: pqxx::work rolls back.

Result<std::unique_ptr<PendingChunk>> PendingChunk::Claim(Store& store,
                                                          const std::string& institution_id,
                                                          int limit, int64_t after_id) {
  try {
    auto txn = std::make_unique<Transaction>(Pq(store));
    std::vector<PendingCredential> credentials;
    std::vector<int64_t> ids;
    for (const pqxx::row& row :
         txn->work.exec_params(kClaimChunk, institution_id, limit, after_id)) {
      credentials.push_back(ReadPending(row));
      ids.push_back(credentials.back().id);
    }
    if (!ids.empty()) {
      // The claim's NOT EXISTS saw the snapshot its statement began with: a credd that
      // committed a document between that and our lock is invisible to it. A new statement
      // (READ COMMITTED: a new snapshot), taken while we hold the locks, sees it.
      std::set<int64_t> done;
      for (const pqxx::row& row : txn->work.exec_params(kHaveDocuments, BigintArray(ids))) {
        done.insert(row[0].as<int64_t>());
      }
      std::erase_if(credentials, [&](const PendingCredential& c) { return done.count(c.id) > 0; });
    }
    return std::unique_ptr<PendingChunk>(new PendingChunk(std::move(txn), std::move(credentials)));
  } catch (const std::exception& e) {
    return PqError("claiming credentials of " + institution_id + " to issue", e);
  }
}

Status PendingChunk::KeepAlive() {
  try {
    txn_->work.exec("SELECT 1");
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("keeping a chunk of credentials claimed", e);
  }
}

Result<std::vector<int64_t>> PendingChunk::Commit(const std::vector<NewDocument>& documents,
                                                  const std::string& actor) {
  pqxx::work& txn = txn_->work;
  try {
    std::vector<int64_t> credentials;
    for (const NewDocument& d : documents) credentials.push_back(d.credential);
    std::map<int64_t, int64_t> supersedes;  // Credential -> the document it replaces.
    if (!documents.empty()) {
      for (const pqxx::row& row : txn.exec_params(kSupersedeChunk, BigintArray(credentials))) {
        supersedes[row[1].as<int64_t>()] = row[0].as<int64_t>();
      }
    }
    // One INSERT for the chunk: the PDFs as binary parameters $8.., the rest as arrays.
    std::vector<std::string> public_ids, sha256s, key_ids, issued_ats, locales;
    std::vector<int64_t> replaced;
    std::vector<pqxx::binarystring> pdfs;
    std::string pdf_rows;
    for (size_t i = 0; i < documents.size(); ++i) {
      const NewDocument& d = documents[i];
      public_ids.push_back(d.public_id);
      sha256s.push_back(d.sha256);
      key_ids.push_back(d.key_id);
      issued_ats.push_back(d.issued_at);
      locales.push_back(d.locale);
      replaced.push_back(supersedes.count(d.credential) ? supersedes[d.credential] : 0);
      pdfs.emplace_back(d.pdf.data(), d.pdf.size());
      pdf_rows += (i > 0 ? ", (" : "(") + std::to_string(i + 1) + ", $" + std::to_string(8 + i) +
                  "::bytea)";
    }
    std::map<int64_t, int64_t> ids;  // Credential -> new document.
    if (!documents.empty()) {
      const std::string insert =
          "INSERT INTO documents (public_id, credential, version, supersedes, status, sha256, "
          "pdf, key_id, issued_at, locale) "
          "SELECT t.public_id::uuid, t.credential, coalesce((SELECT max(x.version) FROM "
          "documents x WHERE x.credential = t.credential), 0) + 1, NULLIF(t.supersedes, 0), "
          "'active', t.sha256, p.pdf, t.key_id, t.issued_at::timestamptz, t.locale "
          "FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], "
          "$6::text[], $7::text[]) WITH ORDINALITY "
          "  AS t(public_id, credential, supersedes, sha256, key_id, issued_at, locale, n) "
          "JOIN (VALUES " +
          pdf_rows + ") AS p(n, pdf) ON p.n = t.n ORDER BY t.n RETURNING id, credential";
      for (const pqxx::row& row : txn.exec_params(
               insert, TextArray(public_ids), BigintArray(credentials), BigintArray(replaced),
               TextArray(sha256s), TextArray(key_ids), TextArray(issued_ats), TextArray(locales),
               pqxx::prepare::make_dynamic_params(pdfs))) {
        ids[row[1].as<int64_t>()] = row[0].as<int64_t>();
      }
    }
    std::vector<AuditEvent> events;
    std::vector<int64_t> out;
    for (size_t i = 0; i < documents.size(); ++i) {
      const NewDocument& d = documents[i];
      nlohmann::json details = {
          {"document", d.public_id}, {"sha256", d.sha256}, {"key_id", d.key_id}};
      if (replaced[i] != 0) details["supersedes"] = replaced[i];
      out.push_back(ids[d.credential]);
      events.push_back({actor, "", "document.issued", "document:" + std::to_string(out.back()),
                        std::move(details)});
    }
    AppendCredentialAudits(txn, events, credentials);
    txn.commit();
    return out;
  } catch (const std::exception& e) {
    return PqError("storing " + std::to_string(documents.size()) + " documents", e);
  }
}

Result<std::vector<PendingCredential>> LoadPendingCredentials(Store& store,
                                                              const std::string& institution_id,
                                                              int limit) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::read_transaction txn(conn);
    std::vector<PendingCredential> pending;
    for (const pqxx::row& row : txn.exec_params(kPendingCredentials, institution_id, limit)) {
      pending.push_back(ReadPending(row));
    }
    return pending;
  } catch (const std::exception& e) {
    return PqError("finding credentials without documents", e);
  }
}

Result<PendingCredential> LoadCredential(Store& store, int64_t credential_id) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::read_transaction txn(conn);
    pqxx::result r = txn.exec_params(kCredentialById, credential_id);
    if (r.empty()) {
      return MakeError(ErrorCode::kNoInput, "no such credential",
                       "credential " + std::to_string(credential_id));
    }
    return ReadPending(r[0]);
  } catch (const std::exception& e) {
    return PqError("reading credential " + std::to_string(credential_id), e);
  }
}

Result<int64_t> StoreDocument(Store& store, const NewDocument& document, const std::string& actor) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::work txn(conn);
    int64_t id = InsertDocument(txn, document, actor);
    txn.commit();
    return id;
  } catch (const std::exception& e) {
    return PqError("storing the document of credential " + std::to_string(document.credential), e);
  }
}

Result<DocumentRow> FindDocument(Store& store, const std::string& id) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::read_transaction txn(conn);
    std::string where = IsNumber(id) ? "WHERE d.id = $1::bigint" : "WHERE d.public_id::text = $1";
    pqxx::result r =
        txn.exec_params(std::string("SELECT ") + kDocumentColumns + kDocumentFrom + where, id);
    if (r.empty()) return MakeError(ErrorCode::kNoInput, "no such document", "document " + id);
    return ReadDocument(r[0]);
  } catch (const std::exception& e) {
    return PqError("finding document " + id, e);
  }
}

Result<std::optional<DocumentRow>> FindDocumentBySha256(Store& store, const std::string& sha256) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::read_transaction txn(conn);
    pqxx::result r = txn.exec_params(
        std::string("SELECT ") + kDocumentColumns + kDocumentFrom + "WHERE d.sha256 = $1", sha256);
    if (r.empty()) return std::optional<DocumentRow>();
    return std::optional<DocumentRow>(ReadDocument(r[0]));
  } catch (const std::exception& e) {
    return PqError("finding the document with SHA-256 " + sha256, e);
  }
}

namespace {

// The newer document is the one whose `supersedes` names this one (migration 9's index).
const std::string kStandingQuery =
    std::string("SELECT ") + kDocumentColumns +
    ", btrim(s.given_names || ' ' || s.family_name), "
    "coalesce(to_char(d.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
    "coalesce(n.public_id::text, ''), "
    "coalesce(to_char(n.issued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')" +
    kDocumentFrom +
    "LEFT JOIN LATERAL (SELECT public_id, issued_at FROM documents WHERE supersedes = d.id "
    "ORDER BY id LIMIT 1) n ON true ";

Result<std::optional<DocumentStanding>> FindStanding(Store& store, const std::string& where,
                                                     const std::string& value,
                                                     const std::string& what) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::read_transaction txn(conn);
    pqxx::result r = txn.exec_params(kStandingQuery + where, value);
    if (r.empty()) return std::optional<DocumentStanding>();
    DocumentStanding standing;
    standing.document = ReadDocument(r[0]);
    standing.student_name = r[0][13].as<std::string>();
    standing.revoked_at = r[0][14].as<std::string>();
    standing.superseded_by = r[0][15].as<std::string>();
    standing.superseded_at = r[0][16].as<std::string>();
    return std::optional<DocumentStanding>(std::move(standing));
  } catch (const std::exception& e) {
    return PqError("finding the document " + what, e);
  }
}

bool IsUuid(const std::string& text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

Result<std::optional<DocumentStanding>> FindStandingBySha256(Store& store,
                                                             const std::string& sha256) {
  return FindStanding(store, "WHERE d.sha256 = $1", sha256, "with SHA-256 " + sha256);
}

Result<std::optional<DocumentStanding>> FindStandingByPublicId(Store& store,
                                                               const std::string& public_id) {
  if (!IsUuid(public_id)) return std::optional<DocumentStanding>();
  return FindStanding(store, "WHERE d.public_id = $1::uuid", public_id, public_id);
}

Result<std::string> LoadDocumentPdf(Store& store, int64_t document_id) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::read_transaction txn(conn);
    pqxx::result r = txn.exec_params("SELECT pdf FROM documents WHERE id = $1", document_id);
    if (r.empty()) {
      return MakeError(ErrorCode::kNoInput, "no such document",
                       "document " + std::to_string(document_id));
    }
    return pqxx::binarystring(r[0][0]).str();
  } catch (const std::exception& e) {
    return PqError("reading document " + std::to_string(document_id), e);
  }
}

Status RevokeDocument(Store& store, int64_t document_id, const std::string& reason,
                      const std::string& actor) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::work txn(conn);
    pqxx::result r = txn.exec_params(kRevoke, document_id, reason);
    if (r.empty()) {
      return MakeError(ErrorCode::kData, "already revoked, or no such document",
                       "document " + std::to_string(document_id));
    }
    AppendCredentialAudit(txn,
                          {actor,
                           "",
                           "document.revoked",
                           "document:" + std::to_string(document_id),
                           {{"reason", reason}}},
                          r[0][0].as<int64_t>());
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("revoking document " + std::to_string(document_id), e);
  }
}

Status VisitBatchDocuments(Store& store, int64_t batch_id, const DocumentVisitor& visit) {
  constexpr int kPerQuery = 200;
  int64_t after = 0;
  while (true) {
    std::vector<ExportedDocument> page;
    try {
      pqxx::read_transaction txn(Pq(store));
      for (const pqxx::row& row : txn.exec_params(
               "SELECT d.id, s.student_id, c.kind, d.public_id::text, d.pdf FROM documents d "
               "JOIN credentials c ON c.id = d.credential JOIN students s ON s.id = c.student "
               "WHERE c.batch = $1 AND d.status = 'active' AND d.id > $2 ORDER BY d.id LIMIT $3",
               batch_id, after, kPerQuery)) {
        after = row[0].as<int64_t>();
        page.push_back({row[1].as<std::string>(), row[2].as<std::string>(),
                        row[3].as<std::string>(), pqxx::binarystring(row[4]).str()});
      }
    } catch (const std::exception& e) {
      return PqError("exporting the documents of batch " + std::to_string(batch_id), e);
    }
    for (const ExportedDocument& document : page) {
      if (Status s = visit(document); !s) return s;
    }
    if (page.size() < static_cast<size_t>(kPerQuery)) return Status::Ok();
  }
}

Status RegisterSigningKey(Store& store, const SigningKeyRow& key, bool make_active,
                          const std::string& actor) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::work txn(conn);
    // Every credd registers its key at start: serialise them, so two processes starting
    // together on a fresh database neither both insert the key nor both make one active.
    txn.exec("SELECT pg_advisory_xact_lock(hashtextextended('credd.signing_keys', 0))");
    pqxx::result existing =
        txn.exec_params("SELECT status FROM signing_keys WHERE key_id = $1 FOR UPDATE", key.key_id);
    bool already_active = !existing.empty() && existing[0][0].as<std::string>() == "active";
    if (make_active && !already_active) {
      txn.exec_params(
          "UPDATE signing_keys SET status = 'retired', retired_at = now() "
          "WHERE status = 'active' AND key_id <> $1",
          key.key_id);
    }
    if (existing.empty()) {
      txn.exec_params(
          "INSERT INTO signing_keys (key_id, certificates_pem, subject, key_reference, "
          "not_before, not_after, status) VALUES ($1, $2, $3, $4, $5::timestamptz, "
          "$6::timestamptz, $7)",
          key.key_id, key.certificates_pem, key.subject, key.key_reference, key.not_before,
          key.not_after, make_active ? "active" : "retired");
    } else {
      txn.exec_params(
          "UPDATE signing_keys SET key_reference = $2, "
          "status = CASE WHEN $3 THEN 'active' ELSE status END, "
          "retired_at = CASE WHEN $3 THEN NULL ELSE retired_at END WHERE key_id = $1",
          key.key_id, key.key_reference, make_active);
    }
    if (existing.empty() || (make_active && !already_active)) {
      AppendAudit(txn, {actor,
                        "",
                        make_active ? "key.activated" : "key.added",
                        "key:" + key.key_id,
                        {{"subject", key.subject}}});
    }
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("registering signing key " + key.key_id, e);
  }
}

Result<std::vector<SigningKeyRow>> ListSigningKeys(Store& store) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::read_transaction txn(conn);
    std::vector<SigningKeyRow> keys;
    for (const pqxx::row& row : txn.exec(std::string("SELECT ") + kKeyColumns +
                                         " FROM signing_keys ORDER BY added_at, key_id")) {
      SigningKeyRow k;
      k.key_id = row[0].as<std::string>();
      k.certificates_pem = row[1].as<std::string>();
      k.subject = row[2].as<std::string>();
      k.key_reference = row[3].as<std::string>();
      k.not_before = row[4].as<std::string>();
      k.not_after = row[5].as<std::string>();
      k.status = row[6].as<std::string>();
      k.added_at = row[7].as<std::string>();
      k.retired_at = row[8].as<std::string>();
      keys.push_back(std::move(k));
    }
    return keys;
  } catch (const std::exception& e) {
    return PqError("listing signing keys", e);
  }
}

}  // namespace credd
