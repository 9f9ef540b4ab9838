// Writing audit events; see internal/audit.h.
#include "daemon/store/internal/audit.h"

#include "daemon/store/internal/pq.h"

namespace credd {
namespace {

constexpr const char* kInsert =
    "INSERT INTO audit_events (actor, institution_id, event, subject, details) "
    "VALUES ($1, NULLIF($2, ''), $3, $4, $5::jsonb)";
constexpr const char* kInsertForCredential =
    "INSERT INTO audit_events (actor, institution_id, event, subject, details) "
    "SELECT $1, s.institution_id, $2, $3, $4::jsonb FROM credentials c "
    "JOIN students s ON s.id = c.student WHERE c.id = $5";
// The rows come out of unnest in order (WITH ORDINALITY), so the chain follows `events`.
constexpr const char* kInsertForCredentials =
    "INSERT INTO audit_events (actor, institution_id, event, subject, details) "
    "SELECT t.actor, s.institution_id, t.event, t.subject, t.details::jsonb "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY "
    "  AS t(actor, event, subject, details, credential, n) "
    "JOIN credentials c ON c.id = t.credential JOIN students s ON s.id = c.student ORDER BY t.n";
constexpr const char* kInsertForOutbox =
    "INSERT INTO audit_events (actor, institution_id, event, subject, details) "
    "SELECT $1, institution_id, $2, $3, $4::jsonb FROM mail_outbox WHERE id = $5";

// One event per institution whose documents the share holds, each listing those documents,
// so every institution's history (and its staff) sees the share of its own documents only.
constexpr const char* kInsertForShare =
    "INSERT INTO audit_events (actor, institution_id, event, subject, details) "
    "SELECT $1, x.institution_id, $2, 'share:' || sh.public_id::text, "
    "  $3::jsonb || jsonb_build_object('documents', x.documents) "
    "FROM shares sh, LATERAL (SELECT s.institution_id, "
    "  jsonb_agg(d.public_id::text ORDER BY d.id) AS documents FROM share_documents sd "
    "  JOIN documents d ON d.id = sd.document JOIN credentials c ON c.id = d.credential "
    "  JOIN students s ON s.id = c.student WHERE sd.share = sh.id "
    "  GROUP BY s.institution_id) x WHERE sh.id = $4 ORDER BY x.institution_id";

}  // namespace

void AppendAudit(pqxx::transaction_base& txn, const AuditEvent& event) {
  txn.exec_params(kInsert, event.actor, event.institution_id, event.event, event.subject,
                  event.details.dump());
}

void AppendCredentialAudit(pqxx::transaction_base& txn, const AuditEvent& event,
                           int64_t credential_id) {
  txn.exec_params(kInsertForCredential, event.actor, event.event, event.subject,
                  event.details.dump(), credential_id);
}

void AppendCredentialAudits(pqxx::transaction_base& txn, const std::vector<AuditEvent>& events,
                            const std::vector<int64_t>& credentials) {
  if (events.empty()) return;
  std::vector<std::string> actors, names, subjects, details;
  for (const AuditEvent& event : events) {
    actors.push_back(event.actor);
    names.push_back(event.event);
    subjects.push_back(event.subject);
    details.push_back(event.details.dump());
  }
  txn.exec_params(kInsertForCredentials, TextArray(actors), TextArray(names), TextArray(subjects),
                  TextArray(details), BigintArray(credentials));
}

void AppendOutboxAudit(pqxx::transaction_base& txn, const AuditEvent& event, int64_t outbox_id) {
  txn.exec_params(kInsertForOutbox, event.actor, event.event, event.subject, event.details.dump(),
                  outbox_id);
}

void AppendShareAudit(pqxx::transaction_base& txn, const AuditEvent& event, int64_t share_id) {
  txn.exec_params(kInsertForShare, event.actor, event.event, event.details.dump(), share_id);
}

}  // namespace credd
