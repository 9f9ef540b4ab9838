// The one place in C++ that writes audit events; the SQL functions credd_store_chunk and
// credd_mail_sent (migrations 4 and 8) write theirs inside their one statement. The chain
// itself (prev_hash, hash) is the database's: a trigger of migration 1 links each row to the
// one before it. Store files call these inside the transaction whose change the event
// records, so the event commits with it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace credd {

struct AuditEvent {
  std::string actor;           // "credd", "credctl:alice", ...
  std::string institution_id;  // Empty: not about one institution (a signing key).
  std::string event;           // "batch.done", "document.revoked", ...
  std::string subject;         // "batch:12", "document:<uuid>", "student:S001", ...
  nlohmann::json details = nlohmann::json::object();
};

void AppendAudit(pqxx::transaction_base& txn, const AuditEvent& event);

// The same, for an event about a credential: its institution is the credential's student's,
// read in the statement that writes the event (institution_id is ignored).
void AppendCredentialAudit(pqxx::transaction_base& txn, const AuditEvent& event,
                           int64_t credential_id);

// Events about many credentials, in one statement, chained in the order given: events[i] is
// about credentials[i] (each event's institution_id is ignored).
void AppendCredentialAudits(pqxx::transaction_base& txn, const std::vector<AuditEvent>& events,
                            const std::vector<int64_t>& credentials);

// The same, for an event about an outbox row: its institution is the row's.
void AppendOutboxAudit(pqxx::transaction_base& txn, const AuditEvent& event, int64_t outbox_id);

// The same, for an event about a share: one event per institution whose documents it holds
// (subject "share:<public id>"; details gain "documents", that institution's public ids).
// event.subject and event.institution_id are ignored.
void AppendShareAudit(pqxx::transaction_base& txn, const AuditEvent& event, int64_t share_id);

}  // namespace credd
