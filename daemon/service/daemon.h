// The daemon's lifecycle on one Boost.Asio io_context: start-up, signals (SIGTERM/SIGINT
// stop cleanly, SIGHUP reloads the config and keeps the old one when the new one is
// invalid), the systemd notify protocol and a periodic health check of the database.
// Pipeline stages (watch, import, sign, mail) hang off this object as they are built.
// Thread contract: everything runs on the io_context's single thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/result.h"
#include "daemon/config/config.h"
#include "daemon/service/systemd_notifier.h"
#include "daemon/store/database.h"

namespace credd {

class Daemon {
 public:
  struct Options {
    bool once = false;                         // Process what is there, send what is due, and exit.
    std::chrono::seconds health_interval{30};  // How often the database is checked.
  };

  // The loader is called on SIGHUP with the original config path; injected so tests can
  // substitute a failing one.
  using ConfigLoader =
      std::function<Result<Config>(const std::string& path, std::vector<ConfigProblem>*)>;

  Daemon(boost::asio::io_context& io, Config config, ConfigLoader loader, Database& database,
         SystemdNotifier& notifier, Logger& log, Options options);

  // Runs until SIGTERM/SIGINT (or, with once, until the work at hand is done). Returns the
  // process exit status.
  int Run();

 private:
  Status PrepareInstitutions(const Config& config);
  void HandleSignal(int signal_number);
  void Reload();
  void ScheduleHealthCheck();
  void CheckHealth();
  void ScheduleWatchdog();
  void Stop(const std::string& reason);
  std::string StatusLine() const;

  boost::asio::io_context& io_;
  Config config_;
  ConfigLoader loader_;
  Database& database_;
  SystemdNotifier& notifier_;
  Logger& log_;
  Options options_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer health_timer_;
  boost::asio::steady_timer watchdog_timer_;
  bool database_healthy_ = true;
  int reloads_ = 0;
  int exit_status_ = 0;
};

// Lists the restart-only settings that differ between two configs ("database.url", ...),
// so a reload can say which changes it did not apply.
std::vector<std::string> RestartOnlyChanges(const Config& before, const Config& after);

}  // namespace credd
