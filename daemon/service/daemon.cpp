#include "daemon/service/daemon.h"

#include <csignal>

#include "daemon/store/institutions.h"
#include "daemon/store/migrations.h"
#include "daemon/watch/drop_folders.h"

namespace credd {

std::vector<std::string> RestartOnlyChanges(const Config& before, const Config& after) {
  std::vector<std::string> changed;
  const DatabaseConfig& a = before.database;
  const DatabaseConfig& b = after.database;
  if (a.url != b.url) changed.push_back("database.url");
  if (a.password.file != b.password.file || a.password.env != b.password.env) {
    changed.push_back("database.password");
  }
  if (a.embedded.data_dir != b.embedded.data_dir || a.embedded.bin_dir != b.embedded.bin_dir ||
      a.embedded.run_as_user != b.embedded.run_as_user) {
    changed.push_back("database.embedded");
  }
  if (a.connect_timeout_seconds != b.connect_timeout_seconds) {
    changed.push_back("database.connect_timeout_seconds");
  }
  if (before.drop_root != after.drop_root) changed.push_back("drop_root");
  if (before.http.listen != after.http.listen) changed.push_back("http.listen");
  if (before.http.admin_token.file != after.http.admin_token.file ||
      before.http.admin_token.env != after.http.admin_token.env) {
    changed.push_back("http.admin_token");
  }
  return changed;
}

Daemon::Daemon(boost::asio::io_context& io, Config config, ConfigLoader loader, Database& database,
               SystemdNotifier& notifier, Logger& log, Options options)
    : io_(io),
      config_(std::move(config)),
      loader_(std::move(loader)),
      database_(database),
      notifier_(notifier),
      log_(log),
      options_(options),
      signals_(io, SIGTERM, SIGINT, SIGHUP),
      health_timer_(io),
      watchdog_timer_(io) {}

Status Daemon::PrepareInstitutions(const Config& config) {
  for (const InstitutionConfig& institution : config.institutions) {
    if (Status s = EnsureDropFolders(config.DropDirFor(institution)); !s) return s;
  }
  auto conn = database_.Connect();
  if (!conn) return conn.error();
  return SyncInstitutions(**conn, config.institutions);
}

std::string Daemon::StatusLine() const {
  std::string line = "serving " + std::to_string(config_.institutions.size()) + " institution";
  if (config_.institutions.size() != 1) line += "s";
  line += database_healthy_ ? "; database ok" : "; database unavailable, retrying";
  return line;
}

int Daemon::Run() {
  if (Status s = PrepareInstitutions(config_); !s) {
    log_.Error("daemon.start_failed", {{"where", s.error().where}, {"error", s.error().message}});
    return s.error().ExitCode();
  }
  log_.Info("daemon.ready", {{"institutions", std::to_string(config_.institutions.size())},
                             {"database", database_.Describe()},
                             {"once", options_.once ? "true" : "false"}});

  if (options_.once) {
    // Nothing is queued yet at this stage of the pipeline; --once returns as soon as the
    // work at hand is done, which stages add to as they are built.
    log_.Info("daemon.once_done");
    return 0;
  }

  signals_.async_wait([this](const boost::system::error_code& ec, int signal_number) {
    if (!ec) HandleSignal(signal_number);
  });
  ScheduleHealthCheck();
  ScheduleWatchdog();
  notifier_.Ready(StatusLine());
  io_.run();
  log_.Info("daemon.stopped", {{"exit_status", std::to_string(exit_status_)}});
  return exit_status_;
}

void Daemon::HandleSignal(int signal_number) {
  if (signal_number == SIGHUP) {
    Reload();
    signals_.async_wait([this](const boost::system::error_code& ec, int next) {
      if (!ec) HandleSignal(next);
    });
    return;
  }
  Stop(signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
}

void Daemon::Stop(const std::string& reason) {
  log_.Info("daemon.stopping", {{"reason", reason}});
  notifier_.Stopping();
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  health_timer_.cancel();
  watchdog_timer_.cancel();
  // Stages finish the record in hand through their own completion handlers; stopping the
  // io_context only after the timers are cancelled lets those handlers run first.
  io_.stop();
}

void Daemon::Reload() {
  notifier_.Reloading();
  log_.Info("config.reload_started", {{"path", config_.source_path}});
  std::vector<ConfigProblem> problems;
  Result<Config> loaded = loader_(config_.source_path, &problems);
  if (loaded.ok()) {
    CheckEnvironment(*loaded, &problems);
  }
  if (!loaded.ok() || !problems.empty()) {
    for (const ConfigProblem& problem : problems) {
      log_.Error("config.problem", {{"path", problem.path},
                                    {"line", std::to_string(problem.line)},
                                    {"message", problem.message}});
    }
    log_.Error("config.reload_rejected", {{"problems", std::to_string(problems.size())},
                                          {"action", "keeping the running configuration"}});
    notifier_.Ready(StatusLine());
    return;
  }
  Config next = std::move(loaded).value();
  for (const std::string& key : RestartOnlyChanges(config_, next)) {
    log_.Warn("config.restart_needed", {{"key", key}, {"action", "keeping the running value"}});
  }
  // Restart-only settings keep their running values; everything else is taken.
  next.database = config_.database;
  next.drop_root = config_.drop_root;
  next.http = config_.http;
  if (Status s = PrepareInstitutions(next); !s) {
    log_.Error("config.reload_rejected", {{"where", s.error().where},
                                          {"error", s.error().message},
                                          {"action", "keeping the running configuration"}});
    notifier_.Ready(StatusLine());
    return;
  }
  config_ = std::move(next);
  log_.SetLevel(config_.log_level);
  ++reloads_;
  log_.Info("config.reloaded", {{"institutions", std::to_string(config_.institutions.size())},
                                {"reloads", std::to_string(reloads_)}});
  notifier_.Ready(StatusLine());
}

void Daemon::ScheduleHealthCheck() {
  health_timer_.expires_after(options_.health_interval);
  health_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    CheckHealth();
    ScheduleHealthCheck();
  });
}

void Daemon::CheckHealth() {
  auto conn = database_.Connect();
  Status status = conn.ok() ? CheckSchemaVersion(**conn) : Status(conn.error());
  bool healthy = status.ok();
  if (healthy != database_healthy_) {
    database_healthy_ = healthy;
    if (healthy) {
      log_.Info("database.recovered");
    } else {
      log_.Error("database.unavailable", {{"error", status.error().ToString()}});
    }
    notifier_.Status(StatusLine());
  }
}

void Daemon::ScheduleWatchdog() {
  auto interval = notifier_.WatchdogPingInterval();
  if (!interval) return;
  notifier_.Watchdog();
  watchdog_timer_.expires_after(*interval);
  watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) ScheduleWatchdog();
  });
}

}  // namespace credd
