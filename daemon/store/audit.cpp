// Writing audit events; see internal/audit.h.
#include "daemon/store/internal/audit.h"

namespace credd {
namespace {

constexpr const char* kInsert =
    "INSERT INTO audit_events (actor, institution_id, event, subject, details) "
    "VALUES ($1, NULLIF($2, ''), $3, $4, $5::jsonb)";
constexpr const char* kInsertForCredential =
    "INSERT INTO audit_events (actor, institution_id, event, subject, details) "
    "SELECT $1, s.institution_id, $2, $3, $4::jsonb FROM credentials c "
    "JOIN students s ON s.id = c.student WHERE c.id = $5";
constexpr const char* kInsertForOutbox =
    "INSERT INTO audit_events (actor, institution_id, event, subject, details) "
    "SELECT $1, institution_id, $2, $3, $4::jsonb FROM mail_outbox WHERE id = $5";

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

void AppendOutboxAudit(pqxx::transaction_base& txn, const AuditEvent& event, int64_t outbox_id) {
  txn.exec_params(kInsertForOutbox, event.actor, event.event, event.subject, event.details.dump(),
                  outbox_id);
}

}  // namespace credd
