// Counts for `credctl status`; see status_query.h.
#include "daemon/store/status_query.h"

#include "daemon/store/database.h"
#include "daemon/store/internal/pq.h"
#include "daemon/store/states.h"

namespace credd {
namespace {

// Two statements: one naming a missing table fails at planning, whatever a CASE says.
constexpr const char* kMigrationsTableExistsQuery =
    "SELECT to_regclass('schema_migrations') IS NOT NULL";
constexpr const char* kSchemaVersionQuery =
    "SELECT coalesce(max(version), 0) FROM schema_migrations";
constexpr const char* kBatchCountsQuery = "SELECT status, count(*) FROM batches GROUP BY status";
constexpr const char* kDocumentCountsQuery =
    "SELECT status, count(*) FROM documents GROUP BY status";
constexpr const char* kInvitationCountsQuery =
    "SELECT state, count(*) FROM invitations GROUP BY state";
constexpr const char* kOutboxCountsQuery =
    "SELECT status, count(*) FROM mail_outbox GROUP BY status";

// Every state of the contract (DESIGN.md, `credctl status --json`) is reported, zero or not.
template <typename E, size_t N>
std::map<std::string, int64_t> Count(pqxx::transaction_base& txn, const char* query,
                                     const EnumTable<E, N>& states) {
  std::map<std::string, int64_t> counts;
  for (const auto& state : states) counts[std::string(state.name)] = 0;
  // A state added by a later migration is reported too, rather than silently dropped.
  for (const auto& row : txn.exec(query)) counts[row[0].as<std::string>()] = row[1].as<int64_t>();
  return counts;
}

}  // namespace

Result<StatusCounts> ReadStatusCounts(Store& store) {
  pqxx::connection& conn = Pq(store);
  try {
    // One snapshot, so the numbers add up even while the daemon works.
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> txn(conn);
    StatusCounts counts;
    if (txn.exec1(kMigrationsTableExistsQuery)[0].as<bool>()) {
      counts.schema_version = txn.exec1(kSchemaVersionQuery)[0].as<int>();
    }
    if (counts.schema_version == 0) {
      return MakeError(ErrorCode::kConfig, "database schema is empty: run `credctl migrate`");
    }
    counts.batches = Count(txn, kBatchCountsQuery, kBatchStatuses);
    counts.documents = Count(txn, kDocumentCountsQuery, kDocumentStatuses);
    counts.invitations = Count(txn, kInvitationCountsQuery, kInvitationStates);
    counts.outbox = Count(txn, kOutboxCountsQuery, kOutboxStates);
    txn.commit();
    return counts;
  } catch (const std::exception& e) {
    return PqError("reading status counts", e);
  }
}

}  // namespace credd
