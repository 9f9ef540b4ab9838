// The one door to PostgreSQL: opens libpqxx connections for a DatabaseConfig (starting the
// embedded cluster when configured) and converts libpqxx exceptions into credd Errors.
// Thread contract: a Database may be shared; each pqxx::connection belongs to one thread.
#pragma once

#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "common/log.h"
#include "common/result.h"
#include "daemon/config/config.h"
#include "daemon/store/embedded_cluster.h"

namespace credd {

// The single helper that turns a libpqxx/libpq exception into an Error. Connection
// failures become kUnavailable; everything else kInternal. `context` says what we did.
Error PqError(const std::string& context, const std::exception& e);

// Parses a libpq conninfo ("host=... dbname=...") or URI ("postgresql://...") and renders it
// as keyword=value conninfo with `overrides` applied (an empty value removes the keyword).
// kConfig when libpq cannot parse it.
Result<std::string> RewriteConninfo(const std::string& conninfo,
                                    const std::map<std::string, std::string>& overrides);

class Database {
 public:
  // Starts the embedded cluster if config.embedded.data_dir is set and url is empty,
  // then checks that a connection can be made. kUnavailable when it cannot.
  static Result<std::unique_ptr<Database>> Open(const DatabaseConfig& config, Logger& log);

  ~Database();  // Releases the embedded cluster (stopping it if nobody else uses it).
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // A fresh connection. kUnavailable when the server cannot be reached.
  Result<std::unique_ptr<pqxx::connection>> Connect() const;

  // The conninfo used (password elided), for messages.
  std::string Describe() const;

 private:
  Database(std::string conninfo, std::string described, std::unique_ptr<EmbeddedCluster> cluster);

  std::string conninfo_;
  std::string described_;
  std::unique_ptr<EmbeddedCluster> cluster_;
};

}  // namespace credd
