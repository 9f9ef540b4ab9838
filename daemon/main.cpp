// credd: the composition root. Builds every stage from the configuration and hands each
// its dependencies; nothing else in credd constructs a stage or reads global state.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <csignal>
#include <iostream>

#include "common/exit_codes.h"
#include "common/log.h"
#include "daemon/config/config.h"
#include "daemon/mail/mailer.h"
#include "daemon/pipeline/signing_setup.h"
#include "daemon/service/daemon.h"
#include "daemon/service/systemd_notifier.h"
#include "daemon/store/database.h"
#include "daemon/store/migrations.h"

namespace {

// Loads and checks the config file; prints every problem, one per line.
credd::Result<credd::Config> LoadChecked(const std::string& path,
                                         std::vector<credd::ConfigProblem>* problems) {
  credd::Result<credd::Config> config = credd::LoadConfigFile(path, problems);
  if (config.ok()) credd::CheckEnvironment(*config, problems);
  if (config.ok() && problems->empty()) return config;
  return credd::MakeError(credd::ErrorCode::kConfig,
                          std::to_string(problems->size()) + " configuration problem(s)", path);
}

}  // namespace

int main(int argc, char** argv) {
  // A relay that hangs up mid-write must be an error to handle, not a signal that kills.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"credd: the registrar's credential issuing daemon"};
  std::string config_path;
  bool once = false;
  app.add_option("--config", config_path, "configuration file (YAML)")->required();
  app.add_flag("--once", once, "process what is there, send what is due, and exit");
  app.set_version_flag("--version", std::string("credd ") + CREDD_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int status = app.exit(e);
    return status == 0 ? credd::kExitOk : credd::kExitUsage;
  }

  credd::Logger log(std::cerr);
  std::vector<credd::ConfigProblem> problems;
  auto config = LoadChecked(config_path, &problems);
  if (!config) {
    for (const auto& problem : problems) {
      log.Error("config.problem", {{"file", config_path},
                                   {"path", problem.path},
                                   {"line", std::to_string(problem.line)},
                                   {"message", problem.message}});
    }
    log.Error("daemon.exit", {{"reason", "invalid configuration"}});
    return credd::kExitConfig;
  }
  log.SetLevel(config->log_level);

  auto database = credd::Database::Open(config->database, log);
  if (!database) {
    log.Error("database.unavailable", {{"error", database.error().ToString()}});
    return database.error().ExitCode();
  }
  {
    auto conn = (*database)->Connect();
    credd::Status schema = conn ? credd::CheckSchemaVersion(**conn) : credd::Status(conn.error());
    if (!schema) {
      log.Error("database.schema", {{"error", schema.error().ToString()}});
      return schema.error().ExitCode();
    }
  }

  boost::asio::io_context io;
  credd::SystemdNotifier notifier;
  credd::Daemon::Options options;
  options.once = once;
  // Templates ship with credd; a config may point elsewhere (templates_dir).
  auto load_signing = [](const credd::Config& c) {
    return credd::LoadSigningSetup(c, CREDD_TEMPLATES_DIR);
  };
  credd::Database& db = **database;
  auto load_mailer = [&db, &log](const credd::Config& c) {
    return credd::mail::BuildMailer(
        c, db, log, c.templates_dir.empty() ? CREDD_TEMPLATES_DIR : c.templates_dir);
  };
  credd::Daemon daemon(io, std::move(config).value(), credd::LoadConfigFile, load_signing,
                       load_mailer, db, notifier, log, options);
  return daemon.Run();
}
