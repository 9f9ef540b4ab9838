// The daemon's lifecycle on one Boost.Asio io_context: start-up, signals (SIGTERM/SIGINT
// stop cleanly, SIGHUP reloads the config and keeps the old one when the new one is
// invalid), the systemd notify protocol and a periodic health check of the database.
// Files are imported on one worker thread, so a big file never delays signals, the watchdog
// or the watcher; the watcher and everything else run on the io_context's thread.
// Thread contract: public methods on the io_context's thread only.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/heartbeat.h"
#include "common/log.h"
#include "common/result.h"
#include "daemon/config/config.h"
#include "daemon/mail/mailer.h"
#include "daemon/metrics/credd_metrics.h"
#include "daemon/pipeline/document_issuer.h"
#include "daemon/pipeline/file_intake.h"
#include "daemon/pipeline/signing_setup.h"
#include "daemon/service/audit_anchors.h"
#include "daemon/service/systemd_notifier.h"
#include "daemon/store/database.h"
#include "daemon/watch/drop_watcher.h"

namespace credd {

class Daemon {
 public:
  struct Options {
    bool once = false;                         // Process what is there, send what is due, and exit.
    std::chrono::seconds health_interval{30};  // How often the database is checked.
    // How often instead while work waits for the database to come back (an outage, a
    // restart, a failover to a replica): these are over in seconds.
    std::chrono::seconds resume_interval{3};
    // How often done/ and rejected/ are swept for a killed writer's temporary files, and
    // how old one must be (a younger one may be another process's, being written).
    std::chrono::seconds sweep_interval{3600};
    std::chrono::seconds temp_min_age{600};
    int chunk_size = 500;  // Records per transaction.
    // The watchdog stops being fed when the worker or the mail thread has been busy this
    // long without progress (a record, a document, an email), so systemd restarts credd.
    std::chrono::seconds stall_limit{600};
    CreddMetrics* metrics = nullptr;  // Files, records and documents counted; null = none.
    // Called first when the daemon stops (SIGTERM): the HTTP server stops accepting and
    // finishes its requests in flight.
    std::function<void()> on_stop;
  };

  // The loader is called on SIGHUP with the original config path; injected so tests can
  // substitute a failing one.
  using ConfigLoader =
      std::function<Result<Config>(const std::string& path, std::vector<ConfigProblem>*)>;
  // Loads the renderer and the signing key for a config; injected like the config loader.
  using SigningLoader = std::function<Result<SigningSetup>(const Config&)>;
  // Builds the mailer (transport and templates) for a config.
  using MailerLoader = std::function<Result<std::unique_ptr<mail::Mailer>>(const Config&)>;

  Daemon(boost::asio::io_context& io, Config config, ConfigLoader loader,
         SigningLoader signing_loader, MailerLoader mailer_loader, Database& database,
         SystemdNotifier& notifier, Logger& log, Options options);
  ~Daemon();

  // Runs until SIGTERM/SIGINT (or, with once, until the work at hand is done). Returns the
  // process exit status.
  int Run();

  // The running config (the newest a reload accepted). Any thread.
  std::shared_ptr<const Config> CurrentConfig() const { return Snapshot(); }
  // Whether the signing key can sign now (readiness); kUnavailable when no key is loaded or
  // it cannot. Any thread.
  Status ProbeSigningKey();
  // A new document for a stored document's credential, signed with the daemon's key; it
  // supersedes the old one. Returns the new document's public id. Any thread, with the
  // caller's Store.
  Result<std::string> Reissue(Store& store, const std::string& document_id,
                              const std::string& actor);
  // Account mail was queued (a share, a confirmation, a reset): the mail thread sends it
  // now rather than at its next round; with whole_round (a resend from the desk), it runs a
  // whole round, invitations included. Any thread; wakes coalesce.
  void WakeMail(bool whole_round = false);

 private:
  Status PrepareInstitutions(const Config& config);
  void HandleSignal(int signal_number);
  void Reload();
  // Reload's steps: the checked file; what it needs, built aside; the swap.
  struct Reloaded;
  std::optional<Config> ReadReloadedConfig();
  Result<Reloaded> PrepareReload(const Config& next);
  void ApplyReload(Config next, Reloaded parts);
  void ResumePausedMail();
  void ScheduleHealthCheck();
  void CheckHealth();
  // Work waits for the database (any thread): checks it every resume_interval until it
  // answers, starting now rather than at the next long interval.
  void NeedResume();
  // The audit anchor, taken when due (AnchorKeeper), then again when the next is due.
  void ScheduleAnchor(std::chrono::seconds after);
  // Removes the report temporaries a killed process left in done/ and rejected/ (main
  // thread and RunOnce), at start and every sweep_interval, and logs each.
  void SweepReportTemps();
  void ScheduleSweep(std::chrono::seconds after);
  void ScheduleWatchdog();
  void Stop(const std::string& reason);
  std::string StatusLine() const;
  int RunOnce();
  void StartWorker();
  void StopWorker();
  void OnFileReady(const std::string& institution_id, const std::string& name);
  void PostResume();
  void PostTakeAll();
  // Runs one unit of the worker's work, with its heartbeat, catching what would otherwise
  // end the thread (and with it, all intake): a bug is logged, the daemon goes on.
  void RunGuarded(const char* what, const std::function<void()>& work);
  bool Stalled();
  std::vector<DropWatcher::Folder> WatchedFolders(const Config& config) const;
  std::shared_ptr<const Config> Snapshot() const;
  // The renderer and key for one config (the intake's record checks, the key's
  // registration) and the issuing pipeline, whose workers have their own; the worker uses
  // the newest.
  struct Documents {
    SigningSetup setup;
    std::unique_ptr<IssuingPipeline> issuing;
  };
  Result<std::shared_ptr<Documents>> LoadDocuments(const Config& config);
  struct Reloaded {
    std::shared_ptr<Documents> documents;
    std::shared_ptr<mail::Mailer> mailer;
  };
  void UseDocuments(std::shared_ptr<Documents> documents);
  void ScheduleMail();
  void RunMailRound();

  boost::asio::io_context& io_;
  Config config_;
  ConfigLoader loader_;
  SigningLoader signing_loader_;
  MailerLoader mailer_loader_;
  Database& database_;
  SystemdNotifier& notifier_;
  Logger& log_;
  Options options_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer health_timer_;
  boost::asio::steady_timer watchdog_timer_;
  boost::asio::steady_timer anchor_timer_;
  boost::asio::steady_timer sweep_timer_;
  AnchorKeeper anchors_;  // Main thread only (and RunOnce).
  // The worker: imports files one at a time with its own io_context.
  boost::asio::io_context worker_io_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      worker_guard_;
  std::thread worker_thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> needs_resume_{false};
  FileIntake intake_;  // Used on the worker thread only.
  // Owned here (guarded by mu_: the HTTP threads read it); the worker's copy is swapped in by
  // post.
  std::shared_ptr<Documents> documents_;
  std::shared_ptr<Documents> worker_documents_;  // Worker thread only.
  // The mail thread: sends on its own, so a slow relay never delays imports.
  boost::asio::io_context mail_io_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      mail_guard_;
  std::thread mail_thread_;
  boost::asio::steady_timer mail_timer_{mail_io_};
  std::shared_ptr<mail::Mailer> mailer_;  // Mail thread only (swapped in by post on reload).
  std::atomic<bool> mail_woken_{false};   // A WakeMail is posted and not yet run.
  DropWatcher watcher_;
  mutable std::mutex mu_;                   // Guards snapshot_, pending_ and documents_.
  std::mutex probe_mu_;                     // One probe of the key at a time.
  std::shared_ptr<const Config> snapshot_;  // The config the worker reads.
  std::set<std::string> pending_;           // "<institution>/<name>" queued on the worker.
  Heartbeat worker_heartbeat_;
  Heartbeat mail_heartbeat_;
  bool stalled_logged_ = false;
  std::string last_status_;  // The last STATUS= line sent to systemd.
  bool database_healthy_ = true;
  int reloads_ = 0;
  int exit_status_ = 0;
};

}  // namespace credd
