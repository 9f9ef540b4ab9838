// The one door to PostgreSQL: opens Store handles for a DatabaseConfig, starting the
// embedded cluster when configured.
// Thread contract: a Database may be shared; each Store belongs to one thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/log.h"
#include "common/result.h"
#include "daemon/config/config.h"
#include "daemon/store/embedded_cluster.h"
#include "daemon/store/store.h"

namespace credd {

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

  // A fresh Store (one connection). kUnavailable when the server cannot be reached. With the
  // embedded cluster, credd owns the server: when it is down, it is started again, at
  // most once per backoff period (1 s doubling to 60 s while it keeps failing).
  Result<std::unique_ptr<Store>> Connect() const;

  // The conninfo used (password elided), for messages.
  std::string Describe() const;

 private:
  Database(std::string conninfo, std::string described, std::unique_ptr<EmbeddedCluster> cluster);

  // Restarts the embedded server when the backoff allows; OK when it may be tried again.
  Status RestartEmbedded() const;

  std::string conninfo_;
  std::string described_;
  std::unique_ptr<EmbeddedCluster> cluster_;
  mutable std::mutex restart_mu_;  // Guards the backoff below and serialises restarts.
  mutable std::chrono::steady_clock::time_point next_restart_{};
  mutable std::chrono::seconds restart_backoff_{1};
};

}  // namespace credd
