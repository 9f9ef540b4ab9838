#include "credctl/session.h"

#include "daemon/store/migrations.h"

namespace credd::ctl {

Result<Session> OpenSession(const GlobalOptions& global, Logger& log, std::ostream& err) {
  std::vector<ConfigProblem> problems;
  Result<Config> config = LoadConfigFile(global.config_path, &problems);
  if (!config.ok() || !problems.empty()) {
    for (const ConfigProblem& p : problems)
      err << global.config_path << ": " << p.ToString() << "\n";
    return MakeError(ErrorCode::kConfig, "invalid configuration", global.config_path);
  }
  Session session;
  session.config = std::move(config).value();
  auto database = Database::Open(session.config.database, log);
  if (!database) return database.error();
  session.database = std::move(database).value();
  auto conn = session.database->Connect();
  if (!conn) return conn.error();
  session.conn = std::move(conn).value();
  if (Status s = CheckSchemaVersion(*session.conn); !s) return s.error();
  return session;
}

int Fail(const Error& error, std::ostream& err) {
  err << "credctl: " << error.ToString() << "\n";
  return error.ExitCode();
}

}  // namespace credd::ctl
