// A private PostgreSQL cluster under a data folder, run with the system's initdb/pg_ctl,
// listening only on a unix socket inside that folder. Several processes (credd, credctl)
// may share it: each holds a shared lock while using it, and the last one out stops it.
// Works as root (the server runs as an unprivileged user) and as a normal user, and
// recovers from a previous user that was killed (stale locks, a server left running).
// Thread contract: one object per process; not thread-safe.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "common/log.h"
#include "common/result.h"
#include "daemon/config/config.h"

namespace credd {

class EmbeddedCluster {
 public:
  // Initialises the cluster on first use, starts it if it is not running, creates the
  // `credd` database, and holds a shared-use lock until destruction.
  static Result<std::unique_ptr<EmbeddedCluster>> Start(const EmbeddedDatabaseConfig& config,
                                                        Logger& log);

  // Stops the server if no other process holds the shared-use lock.
  ~EmbeddedCluster();
  EmbeddedCluster(const EmbeddedCluster&) = delete;
  EmbeddedCluster& operator=(const EmbeddedCluster&) = delete;

  // Starts the server again if it is not running (it crashed, or was stopped under us);
  // OK when it runs. Serialised with every other user through the control lock.
  Status EnsureRunning();

  // libpq conninfo reaching the `credd` database over the socket.
  const std::string& conninfo() const { return conninfo_; }

 private:
  EmbeddedCluster(std::string data_dir, std::string bin_dir, std::string conninfo, int users_fd,
                  uid_t run_uid, gid_t run_gid, Logger& log);

  std::string data_dir_;
  std::string bin_dir_;
  std::string conninfo_;
  int users_fd_;
  uid_t run_uid_;
  gid_t run_gid_;
  Logger& log_;
};

// initdb/pg_ctl's folder: configured, else `pg_config --bindir`, else the newest
// /usr/lib/postgresql/*/bin holding initdb.
Result<std::string> FindPostgresBinDir(const std::string& configured);

}  // namespace credd
