// credd: the composition root. Builds every stage from the configuration and hands each
// its dependencies; nothing else in credd constructs a stage or reads global state.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <csignal>
#include <filesystem>
#include <iostream>

#include "common/exit_codes.h"
#include "common/log.h"
#include "common/metrics.h"
#include "daemon/accounts/passwords.h"
#include "daemon/config/config.h"
#include "daemon/http/admin_routes.h"
#include "daemon/http/desk_routes.h"
#include "daemon/http/http_server.h"
#include "daemon/http/ops_routes.h"
#include "daemon/http/pages.h"
#include "daemon/http/rate_limiter.h"
#include "daemon/http/student_routes.h"
#include "daemon/http/verify_routes.h"
#include "daemon/mail/mailer.h"
#include "daemon/mail/transport.h"
#include "daemon/metrics/credd_metrics.h"
#include "daemon/pipeline/signing_setup.h"
#include "daemon/service/daemon.h"
#include "daemon/service/readiness.h"
#include "daemon/service/systemd_notifier.h"
#include "daemon/store/database.h"
#include "daemon/store/invitation_store.h"
#include "daemon/store/migrations.h"
#include "daemon/store/store_pool.h"
#include "daemon/verify/document_verifier.h"
#include "daemon/watch/claim.h"

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

// The server's limits and timeouts from http.*.
credd::http::ServerOptions ServerOptionsFor(const credd::HttpConfig& http,
                                            credd::http::TrustedProxies proxies) {
  credd::http::ServerOptions options;
  options.listen = http.listen;
  options.handler_threads = http.threads;
  options.max_connections = static_cast<std::size_t>(http.max_connections);
  options.max_connections_per_client = static_cast<std::size_t>(http.max_connections_per_client);
  options.requests_per_minute = http.requests_per_minute;
  options.header_timeout = std::chrono::seconds(http.header_timeout_seconds);
  options.idle_timeout = std::chrono::seconds(http.idle_timeout_seconds);
  options.trusted_proxies = std::move(proxies);
  options.tls_certificate = http.tls.certificate;
  options.tls_key = http.tls.key;
  return options;
}

// The admin API's tokens (none: every admin request is refused with 401).
credd::Result<std::shared_ptr<const credd::http::AdminTokens>> LoadAdminTokens(
    const credd::HttpConfig& http) {
  auto text = http.admin_token.ReadAll();
  if (!text) return text.error();
  const std::string where =
      !http.admin_token.file.empty() ? http.admin_token.file : "$" + http.admin_token.env;
  auto tokens = credd::http::AdminTokens::Parse(*text, where);
  if (!tokens) return tokens.error();
  return std::make_shared<const credd::http::AdminTokens>(std::move(tokens).value());
}

// The gauges that are readings, taken at each scrape: the outbox from the database, and the
// files each institution has in processing/.
void AddReadings(credd::MetricsRegistry& registry, credd::CreddMetrics& metrics,
                 credd::StorePool& pool,
                 std::function<std::shared_ptr<const credd::Config>()> config) {
  registry.OnCollect([&metrics, &pool] {
    auto store = pool.Acquire();
    if (!store) return;
    auto summary = credd::SummariseOutbox(**store);
    if (!summary) return;
    for (const auto& [state, count] : summary->waiting) {
      metrics.outbox.With({std::string(credd::kOutboxStates.Name(state))})
          .Set(static_cast<double>(count));
    }
    metrics.oldest_queued.With({}).Set(summary->oldest_waiting_seconds);
  });
  registry.OnCollect([&metrics, config = std::move(config)] {
    const auto current = config();
    for (const credd::InstitutionConfig& institution : current->institutions) {
      std::error_code error;
      double files = 0;
      for (std::filesystem::directory_iterator it(current->DropDirFor(institution) + "/processing",
                                                  error);
           !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
        if (!credd::IsIgnoredName(it->path().filename().string())) ++files;
      }
      metrics.processing_files.With({institution.id}).Set(files);
    }
  });
}

// What the people's pages (students and the staff desk) hold for the life of the server:
// the password rules, the email templates for shares, confirmations and resets, and the
// in-memory limits.
struct PeopleParts {
  std::unique_ptr<credd::accounts::PasswordPolicy> passwords;
  std::unique_ptr<credd::http::RateLimiter> per_client;
  std::unique_ptr<credd::http::RateLimiter> per_address;
  std::unique_ptr<credd::http::RateLimiter> staff_per_client;
  std::unique_ptr<credd::http::RateLimiter> staff_per_address;
};

credd::Result<PeopleParts> AddPeopleRoutes(credd::http::Router& router, const credd::Config& config,
                                           const std::string& templates_dir,
                                           const credd::http::WebDeps& web,
                                           const std::function<credd::Daemon*()>& daemon) {
  auto policy = credd::accounts::PasswordPolicy::Load(config.accounts.common_passwords);
  if (!policy) return policy.error();
  auto templates = credd::mail::MailTemplates::Load(templates_dir);
  if (!templates) return templates.error();
  const credd::AccountsConfig& accounts = config.accounts;
  const auto window = std::chrono::minutes(accounts.sign_in_window_minutes);
  const credd::Clock& clock = *web.clock;
  PeopleParts parts;
  parts.passwords = std::make_unique<credd::accounts::PasswordPolicy>(std::move(policy).value());
  parts.per_client =
      std::make_unique<credd::http::RateLimiter>(accounts.sign_in_per_client_per_minute, clock);
  parts.per_address =
      std::make_unique<credd::http::RateLimiter>(accounts.sign_in_failures, clock, window);
  parts.staff_per_client =
      std::make_unique<credd::http::RateLimiter>(accounts.sign_in_per_client_per_minute, clock);
  parts.staff_per_address =
      std::make_unique<credd::http::RateLimiter>(accounts.sign_in_failures, clock, window);
  credd::http::AccountMailer mailer{
      std::shared_ptr<const credd::mail::MailTemplates>(std::move(templates).value()),
      [daemon] { daemon()->WakeMail(); }, &clock};
  credd::http::AddStudentRoutes(router, {web, mailer, parts.passwords.get(), parts.per_client.get(),
                                         parts.per_address.get()});
  credd::http::AddDeskRoutes(
      router, {web, parts.staff_per_client.get(), parts.staff_per_address.get(),
               [daemon](credd::Store& store, const std::string& id, const std::string& actor) {
                 return daemon()->Reissue(store, id, actor);
               },
               [daemon] { daemon()->WakeMail(true); }});
  return parts;
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
  credd::MetricsRegistry registry;
  credd::CreddMetrics metrics(registry, CREDD_VERSION);
  credd::Daemon::Options options;
  options.once = once;
  options.metrics = &metrics;
  const std::string templates_dir =
      config->templates_dir.empty() ? CREDD_TEMPLATES_DIR : config->templates_dir;
  // Templates ship with credd; a config may point elsewhere (templates_dir).
  auto load_signing = [](const credd::Config& c) {
    return credd::LoadSigningSetup(c, CREDD_TEMPLATES_DIR);
  };
  credd::Database& db = **database;
  auto load_mailer = [&db, &log, &metrics](const credd::Config& c) {
    return credd::mail::BuildMailer(
        c, db, log, c.templates_dir.empty() ? CREDD_TEMPLATES_DIR : c.templates_dir, &metrics);
  };

  // The HTTP service, on its own threads and its own database connections (not for --once,
  // which exits when the work at hand is done).
  const credd::HttpConfig http_config = config->http;
  credd::StorePool pool(db, http_config.threads);
  credd::DocumentVerifier verifier(credd::SystemClock());
  credd::http::Router router;
  std::unique_ptr<credd::http::Pages> pages;
  std::unique_ptr<credd::Readiness> readiness;
  std::unique_ptr<credd::http::HttpServer> server;
  credd::Daemon* running = nullptr;
  PeopleParts people_parts;
  if (!once) {
    auto loaded = credd::http::Pages::Load(templates_dir);
    if (!loaded) {
      log.Error("http.templates", {{"error", loaded.error().ToString()}});
      return loaded.error().ExitCode();
    }
    pages = std::move(loaded).value();
    auto proxies = credd::http::TrustedProxies::Parse(http_config.trusted_proxies);
    if (!proxies) {
      log.Error("http.config", {{"error", proxies.error().ToString()}});
      return proxies.error().ExitCode();
    }
    auto current_config = [&running] { return running->CurrentConfig(); };
    credd::Readiness::Sources sources;
    sources.pool = &pool;
    sources.config = current_config;
    if (!config->signing.key.empty()) {
      sources.signing_key = [&running] { return running->ProbeSigningKey(); };
    }
    sources.mail = [&log](const credd::Config& c) -> credd::Status {
      auto transport = credd::mail::MakeTransport(c, log);
      if (!transport) return transport.error();
      return (*transport)->Probe();
    };
    readiness = std::make_unique<credd::Readiness>(std::move(sources), credd::SystemClock());
    credd::http::AddOpsRoutes(router, {&registry, [&readiness] { return readiness->Reasons(); }});
    credd::http::AddVerifyRoutes(router, {&pool, &verifier, pages.get(), current_config, &log});
    auto tokens = LoadAdminTokens(http_config);
    if (!tokens) {
      log.Error("http.admin_tokens", {{"error", tokens.error().ToString()}});
      return tokens.error().ExitCode();
    }
    credd::http::AddAdminRoutes(
        router, {&pool, std::move(tokens).value(), current_config,
                 [&running](credd::Store& store, const std::string& id, const std::string& actor) {
                   return running->Reissue(store, id, actor);
                 },
                 &log});
    auto people = AddPeopleRoutes(router, *config, templates_dir,
                                  {&pool, pages.get(), current_config, &log, &credd::SystemClock()},
                                  [&running] { return running; });
    if (!people) {
      log.Error("http.people", {{"error", people.error().ToString()}});
      return people.error().ExitCode();
    }
    people_parts = std::move(people).value();
    AddReadings(registry, metrics, pool, current_config);
    server = std::make_unique<credd::http::HttpServer>(
        ServerOptionsFor(http_config, std::move(proxies).value()), router, log,
        credd::http::ServerMetrics{&metrics.http_requests, &metrics.http_latency,
                                   &metrics.http_refused});
    options.on_stop = [&server] { server->Stop(); };
  }

  credd::Daemon daemon(io, std::move(config).value(), credd::LoadConfigFile, load_signing,
                       load_mailer, db, notifier, log, options);
  running = &daemon;
  if (server) {
    if (credd::Status listening = server->Start(); !listening) {
      log.Error("http.unavailable", {{"error", listening.error().ToString()}});
      return listening.error().ExitCode();
    }
  }
  const int status = daemon.Run();
  if (server) server->Stop();
  return status;
}
