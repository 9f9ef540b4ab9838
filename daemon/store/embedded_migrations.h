// The interface between migrations.cpp and the .cpp that embed_migrations.cmake generates
// from migrations/*.sql at build time. Private to daemon/store.
#pragma once

#include <string_view>
#include <vector>

namespace credd::internal {

struct EmbeddedMigrationSource {
  int version;            // From the file name: 0001_initial.sql -> 1.
  std::string_view name;  // "initial".
  std::string_view sql;   // The file's exact bytes.
};

// Ordered by version; versions are unique (the generator checks).
const std::vector<EmbeddedMigrationSource>& EmbeddedMigrationSources();

}  // namespace credd::internal
