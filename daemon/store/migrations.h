// Numbered SQL migrations, embedded in the binary from daemon/store/migrations/*.sql, and
// the schema-version check the daemon runs before doing anything.
// Thread contract: functions take their own connection; safe to call from any thread.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/store/store.h"

namespace credd {

struct Migration {
  int version;         // From the file name: 0001_initial.sql -> 1.
  std::string name;    // "initial".
  std::string sql;     // The file's text.
  std::string sha256;  // Hex SHA-256 of sql, recorded so an edited migration is noticed.
};

// All embedded migrations, ordered by version.
const std::vector<Migration>& EmbeddedMigrations();

// The highest version this binary knows.
int LatestSchemaVersion();

struct MigrateOutcome {
  int from_version = 0;      // Schema version before (0 = empty database).
  int to_version = 0;        // Schema version after.
  std::vector<int> applied;  // Versions applied by this call (empty when up to date).
};

// Applies every missing migration, each in its own transaction, under an advisory lock so
// concurrent migrators serialise. Idempotent. kConfig when the database is newer than this
// binary or an applied migration's checksum differs from the embedded one.
Result<MigrateOutcome> Migrate(Store& store);

// The current schema version (0 when the migrations table does not exist).
Result<int> CurrentSchemaVersion(Store& store);

// OK only when the schema is exactly LatestSchemaVersion(); otherwise kConfig with a
// message saying what to do ("run credctl migrate" or "upgrade credd").
Status CheckSchemaVersion(Store& store);

}  // namespace credd
