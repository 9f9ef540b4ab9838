// What most credctl commands start with: the config, an open database on a schema this
// credctl knows, and one way to report an Error (message on stderr, sysexits status).
#pragma once

#include <memory>
#include <ostream>

#include "common/log.h"
#include "common/result.h"
#include "credctl/commands.h"
#include "daemon/config/config.h"
#include "daemon/store/database.h"

namespace credd::ctl {

struct Session {
  Config config;
  std::unique_ptr<Database> database;
  std::unique_ptr<Store> conn;
};

// Config problems are printed to err, one per line, and returned as kConfig.
Result<Session> OpenSession(const GlobalOptions& global, Logger& log, std::ostream& err);

// Prints "credctl: <where>: <message>" and returns the error's exit status.
int Fail(const Error& error, std::ostream& err);

}  // namespace credd::ctl
