#include "daemon/service/daemon.h"

#include <algorithm>
#include <csignal>

#include "common/file_name.h"
#include "daemon/pipeline/report.h"
#include "daemon/store/conditions.h"
#include "daemon/store/document_store.h"
#include "daemon/store/institutions.h"
#include "daemon/store/migrations.h"
#include "daemon/watch/drop_folders.h"

namespace credd {

namespace {

ProcessOptions MakeProcessOptions(int chunk_size, const std::atomic<bool>* stop,
                                  Heartbeat* heartbeat, CreddMetrics* metrics) {
  ProcessOptions options;
  options.chunk_size = chunk_size;
  options.actor = "credd";
  options.stop = stop;
  options.heartbeat = heartbeat;
  options.metrics = metrics;
  return options;
}

}  // namespace

Daemon::Daemon(boost::asio::io_context& io, Config config, ConfigLoader loader,
               SigningLoader signing_loader, MailerLoader mailer_loader, Database& database,
               SystemdNotifier& notifier, Logger& log, Options options)
    : io_(io),
      config_(std::move(config)),
      loader_(std::move(loader)),
      signing_loader_(std::move(signing_loader)),
      mailer_loader_(std::move(mailer_loader)),
      database_(database),
      notifier_(notifier),
      log_(log),
      options_(options),
      signals_(io, SIGTERM, SIGINT, SIGHUP),
      health_timer_(io),
      watchdog_timer_(io),
      anchor_timer_(io),
      sweep_timer_(io),
      anchors_(database, log, SystemClock()),
      intake_(database, log,
              MakeProcessOptions(options.chunk_size, &stop_, &worker_heartbeat_, options.metrics)),
      watcher_(io, log,
               [this](const std::string& institution_id, const std::string& name) {
                 OnFileReady(institution_id, name);
               }),
      snapshot_(std::make_shared<const Config>(config_)) {}

Daemon::~Daemon() { StopWorker(); }

Result<std::shared_ptr<Daemon::Documents>> Daemon::LoadDocuments(const Config& config) {
  auto setup = signing_loader_(config);
  if (!setup) return setup.error();
  auto documents = std::make_shared<Documents>();
  documents->setup = std::move(setup).value();
  if (documents->setup.key) {
    auto conn = database_.Connect();
    if (!conn) return conn.error();
    if (Status s = RegisterActiveKey(**conn, config, *documents->setup.key, "credd"); !s) {
      return s.error();
    }
    auto setups = LoadWorkerSetups(signing_loader_, config, config.issuing.workers);
    if (!setups) return setups.error();
    IssuingOptions issuing;
    issuing.chunk_size = config.issuing.chunk_size;
    issuing.heartbeat = &worker_heartbeat_;
    issuing.stop = &stop_;
    issuing.metrics = options_.metrics;
    documents->issuing =
        std::make_unique<IssuingPipeline>(log_, std::move(setups).value(), std::move(issuing));
    log_.Info("signing.ready", {{"key_id", documents->setup.key->key_id()},
                                {"workers", std::to_string(documents->issuing->workers())}});
  } else {
    log_.Warn("signing.off", {{"reason",
                               "signing.key is not set: credentials are stored, "
                               "no documents are issued"}});
  }
  return documents;
}

void Daemon::UseDocuments(std::shared_ptr<Documents> documents) {
  {
    std::lock_guard lock(mu_);
    documents_ = documents;
  }
  auto apply = [this, documents] {
    worker_documents_ = documents;
    intake_.SetDocuments(documents->setup.renderer.get(), documents->issuing.get());
  };
  if (worker_guard_) {
    boost::asio::post(worker_io_, apply);
  } else {
    apply();  // Before the worker starts (and for --once), on this thread.
  }
}

std::shared_ptr<const Config> Daemon::Snapshot() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

Status Daemon::ProbeSigningKey() {
  std::shared_ptr<Documents> documents;
  {
    std::lock_guard lock(mu_);
    documents = documents_;
  }
  if (!documents || !documents->setup.key) {
    return MakeError(ErrorCode::kUnavailable, "no signing key is loaded", "signing.key");
  }
  // The daemon's own key (not a worker's), which only key registration and this probe use.
  std::lock_guard probing(probe_mu_);
  return documents->setup.key->Probe();
}

Result<std::string> Daemon::Reissue(Store& store, const std::string& document_id,
                                    const std::string& actor) {
  std::shared_ptr<Documents> documents;
  {
    std::lock_guard lock(mu_);
    documents = documents_;
  }
  if (!documents || !documents->setup.key) {
    return MakeError(ErrorCode::kConfig, "signing.key is not set: nothing can be signed");
  }
  const std::shared_ptr<const Config> config = Snapshot();
  auto target = FindReissueTarget(store, *config, document_id);
  if (!target) return target.error();
  // The daemon's own key and renderer, shared with the readiness probe: one at a time.
  std::lock_guard signing(probe_mu_);
  DocumentIssuer issuer(log_, *documents->setup.renderer, *documents->setup.key,
                        IssuerOptionsFor(documents->setup, actor));
  auto new_id = issuer.IssueFor(store, *target->institution, target->credential);
  if (!new_id) return new_id.error();
  auto reissued = FindDocument(store, std::to_string(*new_id));
  if (!reissued) return reissued.error();
  return reissued->public_id;
}

std::vector<DropWatcher::Folder> Daemon::WatchedFolders(const Config& config) const {
  std::vector<DropWatcher::Folder> folders;
  for (const InstitutionConfig& institution : config.institutions) {
    folders.push_back({institution.id, config.DropDirFor(institution) + "/incoming"});
  }
  return folders;
}

void Daemon::StartWorker() {
  worker_guard_ =
      std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
          worker_io_.get_executor());
  worker_thread_ = std::thread([this] { worker_io_.run(); });
}

void Daemon::ScheduleMail() {
  std::shared_ptr<const Config> config = Snapshot();
  mail_timer_.expires_after(std::chrono::seconds(config->mail.scheduler_seconds));
  mail_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stop_) return;
    RunMailRound();
    ScheduleMail();
  });
}

void Daemon::WakeMail(bool whole_round) {
  if (whole_round) {
    boost::asio::post(mail_io_, [this] { RunMailRound(); });
    return;
  }
  if (mail_woken_.exchange(true)) return;  // One already waits to run.
  boost::asio::post(mail_io_, [this] {
    mail_woken_ = false;
    if (!mailer_) return;
    HeartbeatScope busy(mail_heartbeat_);
    try {
      auto sent = mailer_->SendAccountMail(*Snapshot());
      if (!sent) log_.Error("mail.account_mail_failed", {{"error", sent.error().ToString()}});
    } catch (const std::exception& e) {
      log_.Error("mail.bug", {{"error", e.what()}, {"action", "the next round goes on"}});
    }
  });
}

void Daemon::RunMailRound() {
  if (!mailer_) return;
  HeartbeatScope busy(mail_heartbeat_);
  try {
    auto handled = mailer_->RunOnce(*Snapshot());
    if (!handled) {
      log_.Error("mail.round_failed", {{"error", handled.error().ToString()}});
    }
  } catch (const std::exception& e) {
    log_.Error("mail.bug", {{"error", e.what()}, {"action", "the next round goes on"}});
  }
}

void Daemon::RunGuarded(const char* what, const std::function<void()>& work) {
  HeartbeatScope busy(worker_heartbeat_);
  try {
    work();
  } catch (const std::exception& e) {
    log_.Error("intake.bug", {{"during", what}, {"error", e.what()}, {"action", "continuing"}});
    NeedResume();
  }
}

void Daemon::StopWorker() {
  stop_ = true;
  if (mail_guard_) {
    mail_guard_.reset();
    boost::asio::post(mail_io_, [this] {
      mail_timer_.cancel();
      if (mailer_) mailer_->Close();
    });
  }
  if (mail_thread_.joinable()) mail_thread_.join();
  if (worker_guard_) {
    worker_guard_.reset();
    // Queued files stay in incoming/ for the next start; the one in hand sees stop_ and
    // returns after committing its current chunk.
    worker_io_.stop();
  }
  if (worker_thread_.joinable()) worker_thread_.join();
}

void Daemon::OnFileReady(const std::string& institution_id, const std::string& name) {
  std::string key = institution_id + "/" + name;
  {
    std::lock_guard lock(mu_);
    if (!pending_.insert(key).second) return;  // Already queued.
  }
  boost::asio::post(worker_io_, [this, key, institution_id, name] {
    {
      std::lock_guard lock(mu_);
      pending_.erase(key);
    }
    if (stop_) return;
    RunGuarded("taking a file", [&] {
      std::shared_ptr<const Config> config = Snapshot();
      for (const InstitutionConfig& institution : config->institutions) {
        if (institution.id != institution_id) continue;
        Status s = intake_.TakeIncoming(*config, institution, name);
        if (!s) {
          log_.Error("intake.error", {{"institution", institution_id},
                                      {"file", NameAsText(name)},
                                      {"error", s.error().ToString()}});
          NeedResume();
        }
      }
    });
  });
}

void Daemon::PostTakeAll() {
  // What is already in incoming/ at start is taken at once, not at the first settled
  // rescan; a file still open for writing is left for its IN_CLOSE_WRITE.
  boost::asio::post(worker_io_, [this] {
    RunGuarded("taking files present at start", [&] {
      std::shared_ptr<const Config> config = Snapshot();
      for (const InstitutionConfig& institution : config->institutions) {
        if (stop_) return;
        if (Status s = intake_.TakeAllIncoming(*config, institution); !s) {
          log_.Error("intake.error",
                     {{"institution", institution.id}, {"error", s.error().ToString()}});
          NeedResume();
        }
      }
    });
  });
}

void Daemon::PostResume() {
  boost::asio::post(worker_io_, [this] {
    RunGuarded("resuming", [&] {
      std::shared_ptr<const Config> config = Snapshot();
      needs_resume_ = false;
      for (const InstitutionConfig& institution : config->institutions) {
        if (stop_) return;
        Status s = intake_.ResumeProcessing(*config, institution);
        if (s) s = intake_.IssuePending(institution);
        if (!s) {
          log_.Error("intake.resume_failed",
                     {{"institution", institution.id}, {"error", s.error().ToString()}});
          NeedResume();
        }
      }
    });
  });
}

int Daemon::RunOnce() {
  int status = 0;
  auto mailer = mailer_loader_(config_);
  if (!mailer) {
    log_.Error("daemon.start_failed",
               {{"where", mailer.error().where}, {"error", mailer.error().message}});
    return mailer.error().ExitCode();
  }
  SweepReportTemps();
  for (const InstitutionConfig& institution : config_.institutions) {
    Status s = intake_.ResumeProcessing(config_, institution);
    if (s) s = intake_.TakeAllIncoming(config_, institution);
    if (s) s = intake_.IssuePending(institution);
    if (!s) {
      log_.Error("intake.error",
                 {{"institution", institution.id}, {"error", s.error().ToString()}});
      status = s.error().ExitCode();
    }
  }
  anchors_.TakeIfDue(config_.audit);
  // Send what is due now (inside the sending windows and limits), then leave.
  auto sent = (*mailer)->RunOnce(config_);
  if (!sent) {
    log_.Error("mail.round_failed", {{"error", sent.error().ToString()}});
    status = sent.error().ExitCode();
  }
  (*mailer)->Close();
  log_.Info("daemon.once_done", {{"exit_status", std::to_string(status)}});
  return status;
}

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
  if (int problems = intake_.FolderProblems(); problems > 0) {
    line += "; drop folders unusable for " + std::to_string(problems) + " institution";
    if (problems != 1) line += "s";
  }
  return line;
}

int Daemon::Run() {
  if (Status s = PrepareInstitutions(config_); !s) {
    log_.Error("daemon.start_failed", {{"where", s.error().where}, {"error", s.error().message}});
    return s.error().ExitCode();
  }
  auto documents = LoadDocuments(config_);
  if (!documents) {
    log_.Error("daemon.start_failed",
               {{"where", documents.error().where}, {"error", documents.error().message}});
    return documents.error().ExitCode();
  }
  UseDocuments(*documents);
  log_.Info("daemon.ready", {{"institutions", std::to_string(config_.institutions.size())},
                             {"database", database_.Describe()},
                             {"once", options_.once ? "true" : "false"}});

  if (options_.once) return RunOnce();

  auto mailer = mailer_loader_(config_);
  if (!mailer) {
    log_.Error("daemon.start_failed",
               {{"where", mailer.error().where}, {"error", mailer.error().message}});
    return mailer.error().ExitCode();
  }
  mailer_ = std::move(mailer).value();
  mailer_->SetStopFlag(&stop_);
  mailer_->SetHeartbeat(&mail_heartbeat_);
  mail_guard_ =
      std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
          mail_io_.get_executor());
  boost::asio::post(mail_io_, [this] { RunMailRound(); });
  ScheduleMail();
  mail_thread_ = std::thread([this] { mail_io_.run(); });

  StartWorker();
  PostResume();
  PostTakeAll();
  if (Status s = watcher_.SetFolders(WatchedFolders(config_)); !s) {
    log_.Error("daemon.start_failed", {{"where", s.error().where}, {"error", s.error().message}});
    StopWorker();
    return s.error().ExitCode();
  }
  (void)watcher_.Start(std::chrono::seconds(config_.rescan_seconds),
                       std::chrono::seconds(config_.settle_seconds));
  log_.Info("watch.started", {{"folders", std::to_string(config_.institutions.size())},
                              {"rescan_seconds", std::to_string(config_.rescan_seconds)}});

  signals_.async_wait([this](const boost::system::error_code& ec, int signal_number) {
    if (!ec) HandleSignal(signal_number);
  });
  ScheduleHealthCheck();
  ScheduleWatchdog();
  ScheduleAnchor(std::chrono::seconds(0));
  ScheduleSweep(std::chrono::seconds(0));
  notifier_.Ready(StatusLine());
  io_.run();
  StopWorker();
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
  if (options_.on_stop) options_.on_stop();
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  health_timer_.cancel();
  watchdog_timer_.cancel();
  anchor_timer_.cancel();
  sweep_timer_.cancel();
  watcher_.Stop();
  stop_ = true;
  // Stages finish the record in hand through their own completion handlers; stopping the
  // io_context only after the timers are cancelled lets those handlers run first.
  io_.stop();
}

void Daemon::Reload() {
  // SIGHUP: take the new config whole (with its renderer, key and mailer), or keep the
  // running one whole; restart-only keys keep their running values either way.
  notifier_.Reloading();
  log_.Info("config.reload_started", {{"path", config_.source_path}});
  std::optional<Config> next = ReadReloadedConfig();
  if (next) {
    auto prepared = PrepareReload(*next);
    if (prepared) {
      ApplyReload(std::move(*next), std::move(prepared).value());
    } else {
      log_.Error("config.reload_rejected", {{"where", prepared.error().where},
                                            {"error", prepared.error().message},
                                            {"action", "keeping the running configuration"}});
    }
  }
  notifier_.Ready(StatusLine());
}

std::optional<Config> Daemon::ReadReloadedConfig() {
  // The file, checked as check-config would; every problem logged with its line.
  std::vector<ConfigProblem> problems;
  Result<Config> loaded = loader_(config_.source_path, &problems);
  if (loaded.ok()) CheckEnvironment(*loaded, &problems);
  if (!loaded.ok() || !problems.empty()) {
    for (const ConfigProblem& problem : problems) {
      log_.Error("config.problem", {{"path", problem.path},
                                    {"line", std::to_string(problem.line)},
                                    {"message", problem.message}});
    }
    log_.Error("config.reload_rejected", {{"problems", std::to_string(problems.size())},
                                          {"action", "keeping the running configuration"}});
    return std::nullopt;
  }
  Config next = std::move(loaded).value();
  for (const RestartOnlyKey& rule : RestartOnlyKeys()) {
    if (!rule.changed(config_, next)) continue;
    log_.Warn("config.restart_needed",
              {{"key", std::string(rule.key)}, {"action", "keeping the running value"}});
    rule.keep(next, config_);
  }
  return next;
}

Result<Daemon::Reloaded> Daemon::PrepareReload(const Config& next) {
  // Everything the new config needs, built before anything running is touched.
  auto documents = LoadDocuments(next);
  if (!documents) return documents.error();
  auto mailer = mailer_loader_(next);
  if (!mailer) return mailer.error();
  if (Status s = PrepareInstitutions(next); !s) return s.error();
  return Reloaded{std::move(documents).value(), std::move(mailer).value()};
}

void Daemon::ApplyReload(Config next, Reloaded parts) {
  // Swap in the new config and its parts: documents now, the mailer between mail rounds.
  const bool audit_changed = next.audit != config_.audit;
  config_ = std::move(next);
  UseDocuments(std::move(parts.documents));
  ResumePausedMail();
  std::shared_ptr<mail::Mailer> handoff = std::move(parts.mailer);
  handoff->SetStopFlag(&stop_);
  handoff->SetHeartbeat(&mail_heartbeat_);
  boost::asio::post(mail_io_, [this, handoff] {
    if (mailer_) mailer_->Close();  // Ends the old connection.
    mailer_ = handoff;
  });
  {
    std::lock_guard lock(mu_);
    snapshot_ = std::make_shared<const Config>(config_);
  }
  if (Status s = watcher_.SetFolders(WatchedFolders(config_)); !s) {
    log_.Error("watch.failed", {{"where", s.error().where}, {"error", s.error().message}});
  }
  watcher_.SetTimings(std::chrono::seconds(config_.rescan_seconds),
                      std::chrono::seconds(config_.settle_seconds));
  watcher_.RescanNow();
  // A new anchors file or interval: look now whether an anchor is due by it.
  if (audit_changed) ScheduleAnchor(std::chrono::seconds(0));
  log_.SetLevel(config_.log_level);
  ++reloads_;
  log_.Info("config.reloaded", {{"institutions", std::to_string(config_.institutions.size())},
                                {"reloads", std::to_string(reloads_)}});
}

void Daemon::ResumePausedMail() {
  // A reload is how an operator says "the relay is fixed": paused sending starts again.
  auto conn = database_.Connect();
  if (!conn) return;
  for (const InstitutionConfig& institution : config_.institutions) {
    auto cleared = ClearCondition(**conn, institution.id, ConditionKind::kMailPaused);
    if (cleared && *cleared) log_.Info("mail.resumed", {{"institution", institution.id}});
  }
}

void Daemon::ScheduleAnchor(std::chrono::seconds after) {
  anchor_timer_.expires_after(after);  // Cancels a wait already scheduled.
  anchor_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    ScheduleAnchor(anchors_.TakeIfDue(config_.audit));
  });
}

void Daemon::SweepReportTemps() {
  for (const InstitutionConfig& institution : config_.institutions) {
    for (const char* state : {"done", "rejected"}) {
      const std::string dir = config_.DropDirFor(institution) + "/" + state;
      auto removed = RemoveStaleReportTemps(dir, options_.temp_min_age);
      if (!removed) {
        log_.Warn("intake.sweep_failed",
                  {{"institution", institution.id}, {"error", removed.error().ToString()}});
        continue;
      }
      for (const std::string& name : *removed) {
        log_.Info("intake.temp_removed", {{"institution", institution.id},
                                          {"file", std::string(state) + "/" + name},
                                          {"reason", "left by a process that stopped mid-write"}});
      }
    }
  }
}

void Daemon::ScheduleSweep(std::chrono::seconds after) {
  sweep_timer_.expires_after(after);
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    SweepReportTemps();
    ScheduleSweep(options_.sweep_interval);
  });
}

void Daemon::NeedResume() {
  needs_resume_ = true;
  // The health check may be armed for the long interval: bring it forward, so work left
  // waiting by an outage or a failover resumes within resume_interval of the database
  // answering again. On the main thread, which owns the timer.
  boost::asio::post(io_, [this] {
    const auto soon = boost::asio::steady_timer::clock_type::now() + options_.resume_interval;
    if (health_timer_.expiry() > soon && !stop_) ScheduleHealthCheck();
  });
}

void Daemon::ScheduleHealthCheck() {
  health_timer_.expires_after(needs_resume_
                                  ? std::min(options_.health_interval, options_.resume_interval)
                                  : options_.health_interval);
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
  if (healthy && needs_resume_) PostResume();
  if (healthy != database_healthy_) {
    database_healthy_ = healthy;
    if (healthy) {
      log_.Info("database.recovered");
    } else {
      log_.Error("database.unavailable", {{"error", status.error().ToString()}});
    }
  }
  if (std::string line = StatusLine(); line != last_status_) {
    last_status_ = line;
    notifier_.Status(line);
  }
}

bool Daemon::Stalled() {
  const auto worker = worker_heartbeat_.StalledFor();
  const auto mail = mail_heartbeat_.StalledFor();
  const bool stalled = worker >= options_.stall_limit || mail >= options_.stall_limit;
  if (stalled && !stalled_logged_) {
    auto seconds = [](Heartbeat::Clock::duration d) {
      return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count());
    };
    log_.Error("daemon.stalled", {{"worker_idle_progress_seconds", seconds(worker)},
                                  {"mail_idle_progress_seconds", seconds(mail)},
                                  {"action", "no longer feeding the watchdog"}});
  }
  stalled_logged_ = stalled;
  return stalled;
}

void Daemon::ScheduleWatchdog() {
  auto interval = notifier_.WatchdogPingInterval();
  if (!interval) return;
  // A thread stuck without progress must not be hidden by the main thread's good health.
  if (!Stalled()) notifier_.Watchdog();
  watchdog_timer_.expires_after(*interval);
  watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) ScheduleWatchdog();
  });
}

}  // namespace credd
