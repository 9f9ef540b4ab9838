// Applies the embedded migrations and checks the schema version; see migrations.h.
#include "daemon/store/migrations.h"

#include <openssl/evp.h>

#include <algorithm>
#include <map>

#include "common/sha256.h"
#include "daemon/store/database.h"
#include "daemon/store/embedded_migrations.h"
#include "daemon/store/internal/pq.h"

namespace credd {
namespace {

// Session-level advisory lock key for migrators ('cred', 'migr'): held across the
// per-migration transactions so two `credctl migrate` runs apply each migration once.
constexpr int kMigrateLockKey1 = 0x63726564;
constexpr int kMigrateLockKey2 = 0x6d696772;

constexpr const char* kLockQuery = "SELECT pg_advisory_lock($1, $2)";
constexpr const char* kUnlockQuery = "SELECT pg_advisory_unlock($1, $2)";
constexpr const char* kMigrationsTableExistsQuery =
    "SELECT to_regclass('schema_migrations') IS NOT NULL";
constexpr const char* kCreateMigrationsTableQuery =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "  version    integer PRIMARY KEY,"
    "  name       text NOT NULL,"
    "  sha256     text NOT NULL,"
    "  applied_at timestamptz NOT NULL DEFAULT now())";
constexpr const char* kAppliedMigrationsQuery =
    "SELECT version, name, sha256 FROM schema_migrations ORDER BY version";
constexpr const char* kMaxVersionQuery = "SELECT coalesce(max(version), 0) FROM schema_migrations";
constexpr const char* kRecordMigrationQuery =
    "INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)";

std::string FileName(const Migration& m) {
  std::string number = std::to_string(m.version);
  if (number.size() < 4) number.insert(0, 4 - number.size(), '0');
  return number + "_" + m.name + ".sql";
}

std::string NewerMessage(int version) {
  return "database schema version " + std::to_string(version) +
         " is newer than this credd knows (" + std::to_string(LatestSchemaVersion()) +
         "): upgrade credd";
}

struct AppliedMigration {
  int version;
  std::string name;
  std::string sha256;
};

// Checks what the database has applied against what this binary embeds: kConfig when the
// database is newer, has a migration we do not know, or an edited migration.
Status VerifyApplied(const std::vector<AppliedMigration>& applied) {
  std::map<int, const Migration*> known;
  for (const Migration& m : EmbeddedMigrations()) known[m.version] = &m;
  for (const AppliedMigration& a : applied) {
    if (a.version > LatestSchemaVersion()) {
      return MakeError(ErrorCode::kConfig, NewerMessage(a.version));
    }
    auto it = known.find(a.version);
    if (it == known.end()) {
      return MakeError(ErrorCode::kConfig, "database has migration " + std::to_string(a.version) +
                                               " (" + a.name + ") that this credd does not know");
    }
    if (it->second->sha256 != a.sha256) {
      return MakeError(ErrorCode::kConfig,
                       "migration " + FileName(*it->second) + " was applied with checksum " +
                           a.sha256 + " but this credd has " + it->second->sha256 +
                           ": the migration was edited after it was applied",
                       "schema_migrations");
    }
  }
  return Status::Ok();
}

std::vector<AppliedMigration> ReadApplied(pqxx::transaction_base& txn) {
  std::vector<AppliedMigration> applied;
  for (const auto& row : txn.exec(kAppliedMigrationsQuery)) {
    applied.push_back({row[0].as<int>(), row[1].as<std::string>(), row[2].as<std::string>()});
  }
  return applied;
}

// Releases the session advisory lock however Migrate leaves. A broken connection releases
// it on the server anyway, so a failure here is ignored.
class SessionLockGuard {
 public:
  explicit SessionLockGuard(pqxx::connection& conn) : conn_(conn) {}
  ~SessionLockGuard() {
    try {
      pqxx::nontransaction txn(conn_);
      txn.exec_params(kUnlockQuery, kMigrateLockKey1, kMigrateLockKey2);
    } catch (const std::exception&) {
      // The lock dies with the session.
    }
  }
  SessionLockGuard(const SessionLockGuard&) = delete;
  SessionLockGuard& operator=(const SessionLockGuard&) = delete;

 private:
  pqxx::connection& conn_;
};

}  // namespace

const std::vector<Migration>& EmbeddedMigrations() {
  static const std::vector<Migration> kMigrations = [] {
    std::vector<Migration> migrations;
    for (const auto& source : internal::EmbeddedMigrationSources()) {
      migrations.push_back({source.version, std::string(source.name), std::string(source.sql),
                            Sha256Hex(source.sql)});
    }
    std::sort(migrations.begin(), migrations.end(),
              [](const Migration& a, const Migration& b) { return a.version < b.version; });
    return migrations;
  }();
  return kMigrations;
}

int LatestSchemaVersion() {
  const auto& migrations = EmbeddedMigrations();
  return migrations.empty() ? 0 : migrations.back().version;
}

Result<MigrateOutcome> Migrate(Store& store) {
  pqxx::connection& conn = Pq(store);
  std::string step = "taking the migration lock";
  try {
    {
      pqxx::nontransaction txn(conn);
      txn.exec_params(kLockQuery, kMigrateLockKey1, kMigrateLockKey2);
    }
    SessionLockGuard guard(conn);

    step = "reading schema_migrations";
    MigrateOutcome outcome;
    std::vector<AppliedMigration> applied;
    {
      pqxx::work txn(conn);
      txn.exec0(kCreateMigrationsTableQuery);
      applied = ReadApplied(txn);
      txn.commit();
    }
    if (Status s = VerifyApplied(applied); !s.ok()) return s.error();
    outcome.from_version = applied.empty() ? 0 : applied.back().version;

    for (const Migration& m : EmbeddedMigrations()) {
      bool done = std::any_of(applied.begin(), applied.end(),
                              [&](const AppliedMigration& a) { return a.version == m.version; });
      if (done) continue;
      if (m.version < outcome.from_version) {
        // A gap below the applied head means the history differs from ours; applying an
        // old migration on top of newer ones could do anything.
        return MakeError(ErrorCode::kConfig, "migration " + FileName(m) +
                                                 " is missing from a database at version " +
                                                 std::to_string(outcome.from_version));
      }
      step = "applying migration " + FileName(m);
      pqxx::work txn(conn);
      txn.exec(m.sql);
      txn.exec_params0(kRecordMigrationQuery, m.version, m.name, m.sha256);
      txn.commit();
      outcome.applied.push_back(m.version);
    }
    outcome.to_version = outcome.applied.empty() ? outcome.from_version : outcome.applied.back();
    return outcome;
  } catch (const std::exception& e) {
    return PqError(step, e);
  }
}

Result<int> CurrentSchemaVersion(Store& store) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::read_transaction txn(conn);
    if (!txn.exec1(kMigrationsTableExistsQuery)[0].as<bool>()) return 0;
    return txn.exec1(kMaxVersionQuery)[0].as<int>();
  } catch (const std::exception& e) {
    return PqError("reading the schema version", e);
  }
}

Status CheckSchemaVersion(Store& store) {
  pqxx::connection& conn = Pq(store);
  std::vector<AppliedMigration> applied;
  try {
    pqxx::read_transaction txn(conn);
    if (txn.exec1(kMigrationsTableExistsQuery)[0].as<bool>()) applied = ReadApplied(txn);
  } catch (const std::exception& e) {
    return PqError("reading the schema version", e);
  }
  const int current = applied.empty() ? 0 : applied.back().version;
  const int latest = LatestSchemaVersion();
  if (current == 0) {
    return MakeError(ErrorCode::kConfig, "database schema is empty: run `credctl migrate`");
  }
  if (current > latest) return MakeError(ErrorCode::kConfig, NewerMessage(current));
  if (Status s = VerifyApplied(applied); !s.ok()) return s;
  if (current < latest) {
    return MakeError(ErrorCode::kConfig, "database schema version " + std::to_string(current) +
                                             " is older than this credd (" +
                                             std::to_string(latest) + "): run `credctl migrate`");
  }
  return Status::Ok();
}

}  // namespace credd
