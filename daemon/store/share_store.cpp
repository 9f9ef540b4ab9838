// A student's documents and shares; see share_store.h.
#include "daemon/store/share_store.h"

#include "daemon/store/internal/audit.h"
#include "daemon/store/internal/pq.h"

namespace credd {
namespace {

constexpr const char* kDocumentColumns =
    "d.id, d.public_id::text, s.institution_id, c.kind, c.title, d.status, "
    "to_char(d.issued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "coalesce(d.revoked_reason, ''), "
    "coalesce(to_char(d.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
    "coalesce((SELECT n.public_id::text FROM documents n WHERE n.supersedes = d.id "
    "ORDER BY n.id DESC LIMIT 1), '')";
constexpr const char* kDocumentJoins =
    " FROM documents d JOIN credentials c ON c.id = d.credential "
    "JOIN students s ON s.id = c.student ";

constexpr const char* kUtc = "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'";

std::string Utc(const std::string& column) {
  return "coalesce(to_char(" + column + " AT TIME ZONE 'UTC', " + kUtc + "), '')";
}

AccountDocument ReadDocument(const pqxx::row& r) {
  return {r[0].as<int64_t>(),     r[1].as<std::string>(), r[2].as<std::string>(),
          r[3].as<std::string>(), r[4].as<std::string>(), ParseStored(kDocumentStatuses, r[5]),
          r[6].as<std::string>(), r[7].as<std::string>(), r[8].as<std::string>(),
          r[9].as<std::string>()};
}

// A share's columns, from shares sh; `now` is the parameter number of now. One open writes
// an event per institution, all stamped with its transaction's now(): opens are counted
// by distinct instants.
std::string ShareColumns(int now) {
  const std::string n = "$" + std::to_string(now) + "::timestamptz";
  return "sh.id, sh.public_id::text, sh.account, sh.recipient, sh.note, sh.locale, " +
         Utc("sh.created_at") + ", " + Utc("sh.expires_at") + ", " + Utc("sh.cancelled_at") +
         ", CASE WHEN sh.cancelled_at IS NOT NULL THEN 'cancelled' WHEN sh.expires_at <= " + n +
         " THEN 'expired' ELSE 'active' END, "
         "(SELECT count(DISTINCT a.occurred_at) FROM audit_events a "
         " WHERE a.subject = 'share:' || sh.public_id::text AND a.event = 'share.opened'), "
         "(SELECT count(*) FROM audit_events a WHERE a.subject = 'share:' || sh.public_id::text "
         " AND a.event = 'share.downloaded'), "
         "coalesce((SELECT to_char(max(a.occurred_at) AT TIME ZONE 'UTC', " +
         kUtc +
         ") FROM audit_events a WHERE a.subject = 'share:' || sh.public_id::text "
         " AND a.event = 'share.opened'), ''), "
         "coalesce((SELECT btrim(s.given_names || ' ' || s.family_name) FROM students s "
         " WHERE s.account = sh.account ORDER BY s.id LIMIT 1), '')";
}

ShareState ParseShareState(const std::string& word) {
  if (word == "cancelled") return ShareState::kCancelled;
  if (word == "expired") return ShareState::kExpired;
  return ShareState::kActive;
}

ShareRow ReadShare(const pqxx::row& r) {
  ShareRow s;
  s.id = r[0].as<int64_t>();
  s.public_id = r[1].as<std::string>();
  s.account = r[2].as<int64_t>();
  s.recipient = r[3].as<std::string>();
  s.note = r[4].as<std::string>();
  s.locale = r[5].as<std::string>();
  s.created_at = r[6].as<std::string>();
  s.expires_at = r[7].as<std::string>();
  s.cancelled_at = r[8].as<std::string>();
  s.state = ParseShareState(r[9].as<std::string>());
  s.opens = r[10].as<int>();
  s.downloads = r[11].as<int>();
  s.last_opened_at = r[12].as<std::string>();
  s.student_name = r[13].as<std::string>();
  return s;
}

// The text a history line shows beside its event.
std::string DetailOf(const std::string& event, const nlohmann::json& details) {
  auto text = [&](const char* key) {
    return details.contains(key) && details[key].is_string() ? details[key].get<std::string>()
                                                             : std::string();
  };
  if (event == "document.revoked") return text("reason");
  if (event == "share.created") return text("recipient");
  if (event == "share.expiry_changed") return text("expires_at");
  if (event == "document.superseded") return text("document");
  return "";
}

std::vector<HistoryEntry> ReadHistory(const pqxx::result& rows) {
  std::vector<HistoryEntry> history;
  for (const pqxx::row& r : rows) {
    const std::string event = r[1].as<std::string>();
    const nlohmann::json details = nlohmann::json::parse(r[3].as<std::string>(), nullptr, false);
    history.push_back({r[0].as<std::string>(), event, r[2].as<std::string>(),
                       details.is_discarded() ? "" : DetailOf(event, details),
                       r[4].as<std::string>()});
  }
  return history;
}

void ReadShareDocuments(pqxx::transaction_base& txn, ShareRow& share) {
  for (const pqxx::row& r : txn.exec_params(
           std::string("SELECT ") + kDocumentColumns + kDocumentJoins +
               "JOIN share_documents sd ON sd.document = d.id WHERE sd.share = $1 ORDER BY d.id",
           share.id)) {
    AccountDocument d = ReadDocument(r);
    share.documents.push_back({d.id, d.public_id, d.institution_id, d.kind, d.title, d.status,
                               d.issued_at, d.revoked_reason});
  }
}

void ReadShareEvents(pqxx::transaction_base& txn, ShareRow& share) {
  share.events =
      ReadHistory(txn.exec_params("SELECT " + Utc("occurred_at") +
                                      ", event, actor, details::text, $2::text FROM audit_events "
                                      "WHERE subject = 'share:' || $1::text ORDER BY seq",
                                  share.public_id, share.public_id));
}

// Whether the link is live: not cancelled and not expired at `now`.
constexpr const char* kLive = " sh.cancelled_at IS NULL AND sh.expires_at > $2::timestamptz ";

}  // namespace

Result<std::vector<AccountDocument>> AccountDocuments(Store& store, int64_t account) {
  try {
    pqxx::read_transaction txn(Pq(store));
    std::vector<AccountDocument> documents;
    for (const pqxx::row& r :
         txn.exec_params(std::string("SELECT ") + kDocumentColumns + kDocumentJoins +
                             "WHERE s.account = $1 "
                             "ORDER BY s.institution_id, d.issued_at DESC, d.id DESC",
                         account)) {
      documents.push_back(ReadDocument(r));
    }
    return documents;
  } catch (const std::exception& e) {
    return PqError("listing an account's documents", e);
  }
}

Result<std::optional<AccountDocument>> AccountDocumentById(Store& store, int64_t account,
                                                           const std::string& public_id) {
  try {
    pqxx::read_transaction txn(Pq(store));
    pqxx::result rows = txn.exec_params(std::string("SELECT ") + kDocumentColumns + kDocumentJoins +
                                            "WHERE s.account = $1 AND d.public_id::text = $2",
                                        account, public_id);
    if (rows.empty()) return std::optional<AccountDocument>();
    return std::optional<AccountDocument>(ReadDocument(rows[0]));
  } catch (const std::exception& e) {
    return PqError("reading a document", e);
  }
}

Result<std::optional<std::string>> AccountDocumentPdf(Store& store, int64_t account,
                                                      const std::string& public_id) {
  try {
    pqxx::read_transaction txn(Pq(store));
    pqxx::result rows = txn.exec_params("SELECT d.pdf" + std::string(kDocumentJoins) +
                                            "WHERE s.account = $1 AND d.public_id::text = $2",
                                        account, public_id);
    if (rows.empty()) return std::optional<std::string>();
    pqxx::binarystring pdf(rows[0][0]);
    return std::optional<std::string>(pdf.str());
  } catch (const std::exception& e) {
    return PqError("reading a document's PDF", e);
  }
}

Result<std::vector<HistoryEntry>> DocumentHistory(Store& store, int64_t document_id) {
  try {
    pqxx::read_transaction txn(Pq(store));
    // Its own events; the issue of the version that replaced it, as "superseded"; and every
    // event of the shares that hold it (a download, only when of this document).
    const pqxx::result rows = txn.exec_params(
        "SELECT " + Utc("a.occurred_at") +
            ", CASE WHEN a.subject = 'document:' || $1::bigint THEN a.event "
            "  WHEN a.subject LIKE 'document:%' THEN 'document.superseded' ELSE a.event END, "
            "a.actor, a.details::text, CASE WHEN a.subject LIKE 'share:%' "
            "  THEN substr(a.subject, 7) ELSE '' END FROM audit_events a "
            "WHERE a.subject = 'document:' || $1::bigint "
            "OR a.subject IN (SELECT 'document:' || n.id FROM documents n WHERE n.supersedes = "
            "$1::bigint) "
            "OR (a.subject IN (SELECT 'share:' || sh.public_id::text FROM share_documents sd "
            "    JOIN shares sh ON sh.id = sd.share WHERE sd.document = $1::bigint) "
            "  AND (a.event <> 'share.downloaded' OR a.details->>'document' = "
            "    (SELECT public_id::text FROM documents WHERE id = $1::bigint))) "
            "ORDER BY a.seq",
        document_id);
    return ReadHistory(rows);
  } catch (const std::exception& e) {
    return PqError("reading a document's history", e);
  }
}

Result<ShareRow> CreateShare(Store& store, const NewShare& share, const std::string& now,
                             const std::string& actor) {
  try {
    pqxx::work txn(Pq(store));
    std::vector<int64_t> ids;
    for (const std::string& public_id : share.document_ids) {
      pqxx::result d = txn.exec_params("SELECT d.id" + std::string(kDocumentJoins) +
                                           "WHERE s.account = $1 AND d.public_id::text = $2",
                                       share.account, public_id);
      if (d.empty()) return MakeError(ErrorCode::kNoInput, "no such document", public_id);
      ids.push_back(d[0][0].as<int64_t>());
    }
    if (ids.empty()) return MakeError(ErrorCode::kData, "a share needs at least one document");
    const int64_t id =
        txn.exec_params1(
               "INSERT INTO shares (account, token_sha256, recipient, note, locale, expires_at, "
               "created_at, updated_at) VALUES ($1, decode($2, 'hex'), $3, $4, $5, "
               "$6::timestamptz, $7::timestamptz, $7::timestamptz) RETURNING id",
               share.account, share.token_sha256, share.recipient, share.note, share.locale,
               share.expires_at, now)[0]
            .as<int64_t>();
    txn.exec_params(
        "INSERT INTO share_documents (share, document) SELECT $1, unnest($2::bigint[]) "
        "ON CONFLICT DO NOTHING",
        id, BigintArray(ids));
    AppendShareAudit(txn,
                     {actor,
                      "",
                      "share.created",
                      "",
                      {{"recipient", share.recipient}, {"expires_at", share.expires_at}}},
                     id);
    pqxx::result row =
        txn.exec_params("SELECT " + ShareColumns(2) + " FROM shares sh WHERE sh.id = $1", id, now);
    ShareRow created = ReadShare(row[0]);
    ReadShareDocuments(txn, created);
    txn.commit();
    return created;
  } catch (const std::exception& e) {
    return PqError("creating a share", e);
  }
}

Result<std::vector<ShareRow>> AccountShares(Store& store, int64_t account, const std::string& now) {
  try {
    pqxx::read_transaction txn(Pq(store));
    std::vector<ShareRow> shares;
    for (const pqxx::row& r : txn.exec_params(
             "SELECT " + ShareColumns(2) +
                 " FROM shares sh WHERE sh.account = $1 ORDER BY sh.created_at DESC, sh.id DESC",
             account, now)) {
      shares.push_back(ReadShare(r));
      ReadShareDocuments(txn, shares.back());
    }
    return shares;
  } catch (const std::exception& e) {
    return PqError("listing shares", e);
  }
}

Result<std::optional<ShareRow>> AccountShare(Store& store, int64_t account,
                                             const std::string& public_id, const std::string& now) {
  try {
    pqxx::read_transaction txn(Pq(store));
    pqxx::result rows =
        txn.exec_params("SELECT " + ShareColumns(2) +
                            " FROM shares sh WHERE sh.account = $1 AND sh.public_id::text = $3",
                        account, now, public_id);
    if (rows.empty()) return std::optional<ShareRow>();
    ShareRow share = ReadShare(rows[0]);
    ReadShareDocuments(txn, share);
    ReadShareEvents(txn, share);
    return std::optional<ShareRow>(std::move(share));
  } catch (const std::exception& e) {
    return PqError("reading a share", e);
  }
}

Result<bool> CancelShare(Store& store, int64_t account, const std::string& public_id,
                         const std::string& now, const std::string& actor) {
  try {
    pqxx::work txn(Pq(store));
    pqxx::result rows = txn.exec_params(
        "UPDATE shares SET cancelled_at = $3::timestamptz, updated_at = now() "
        "WHERE account = $1 AND public_id::text = $2 AND cancelled_at IS NULL RETURNING id",
        account, public_id, now);
    if (rows.empty()) return false;
    AppendShareAudit(txn, {actor, "", "share.cancelled", "", {}}, rows[0][0].as<int64_t>());
    txn.commit();
    return true;
  } catch (const std::exception& e) {
    return PqError("cancelling a share", e);
  }
}

Result<bool> ChangeShareExpiry(Store& store, int64_t account, const std::string& public_id,
                               const std::string& expires_at, const std::string& now,
                               const std::string& actor) {
  try {
    pqxx::work txn(Pq(store));
    pqxx::result rows = txn.exec_params(
        "UPDATE shares SET expires_at = $3::timestamptz, updated_at = $4::timestamptz "
        "WHERE account = $1 AND public_id::text = $2 AND cancelled_at IS NULL RETURNING id",
        account, public_id, expires_at, now);
    if (rows.empty()) return false;
    AppendShareAudit(txn, {actor, "", "share.expiry_changed", "", {{"expires_at", expires_at}}},
                     rows[0][0].as<int64_t>());
    txn.commit();
    return true;
  } catch (const std::exception& e) {
    return PqError("changing a share's expiry", e);
  }
}

Result<std::optional<ShareRow>> OpenShare(Store& store, const std::string& token_sha256,
                                          const std::string& now, const std::string& actor) {
  try {
    pqxx::work txn(Pq(store));
    pqxx::result rows = txn.exec_params(
        "SELECT " + ShareColumns(2) + " FROM shares sh WHERE sh.token_sha256 = decode($1, 'hex')",
        token_sha256, now);
    if (rows.empty()) return std::optional<ShareRow>();
    ShareRow share = ReadShare(rows[0]);
    ReadShareDocuments(txn, share);
    if (share.state == ShareState::kActive) {
      AppendShareAudit(txn, {actor, "", "share.opened", "", {}}, share.id);
      ++share.opens;
    }
    txn.commit();
    return std::optional<ShareRow>(std::move(share));
  } catch (const std::exception& e) {
    return PqError("opening a share", e);
  }
}

Result<std::optional<std::string>> ShareDownload(Store& store, const std::string& token_sha256,
                                                 const std::string& document_public_id,
                                                 const std::string& now, const std::string& actor) {
  try {
    pqxx::work txn(Pq(store));
    pqxx::result rows = txn.exec_params(
        "SELECT sh.public_id::text, s.institution_id, d.pdf FROM shares sh "
        "JOIN share_documents sd ON sd.share = sh.id JOIN documents d ON d.id = sd.document "
        "JOIN credentials c ON c.id = d.credential JOIN students s ON s.id = c.student "
        "WHERE sh.token_sha256 = decode($1, 'hex') AND" +
            std::string(kLive) + "AND d.public_id::text = $3",
        token_sha256, now, document_public_id);
    if (rows.empty()) return std::optional<std::string>();
    pqxx::binarystring pdf(rows[0][2]);
    // About one document: its institution's event alone.
    AppendAudit(txn, {actor,
                      rows[0][1].as<std::string>(),
                      "share.downloaded",
                      "share:" + rows[0][0].as<std::string>(),
                      {{"document", document_public_id}}});
    txn.commit();
    return std::optional<std::string>(pdf.str());
  } catch (const std::exception& e) {
    return PqError("downloading through a share", e);
  }
}

}  // namespace credd
