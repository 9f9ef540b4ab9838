// Issues documents for pending credentials at the speed of its stages. The caller's thread
// claims pending credentials a chunk at a time (their rows locked until the chunk commits)
// and stores each chunk's documents with a few set-based statements; a pool of workers
// renders and signs them, each with its own Renderer and SigningKey (for PKCS#11, its own
// session). At most two chunks are in flight: while the workers sign one, the one before it
// is stored and the one after it claimed. That bounded queue keeps memory flat, and a crash
// redoes at most the chunks not yet committed.
// Thread contract: IssuePending from one thread at a time; the workers are the pipeline's.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/heartbeat.h"
#include "common/log.h"
#include "common/result.h"
#include "daemon/config/config.h"
#include "daemon/metrics/credd_metrics.h"
#include "daemon/pipeline/document_issuer.h"
#include "daemon/pipeline/signing_setup.h"
#include "daemon/store/database.h"

namespace credd {

struct IssuingOptions {
  int chunk_size = 64;                      // Credentials claimed, signed and stored together.
  std::string actor = "credd";              // Who issues, for audit events.
  Heartbeat* heartbeat = nullptr;           // Beaten per document, for the watchdog.
  const std::atomic<bool>* stop = nullptr;  // Set on shutdown: finish the chunks in flight.
  const Clock* clock = &SystemClock();      // Stamps documents; times the chunks.
  CreddMetrics* metrics = nullptr;          // Documents issued and render+sign times.
};

class IssuingPipeline {
 public:
  // One worker per setup; each setup must hold a key.
  IssuingPipeline(Logger& log, std::vector<SigningSetup> setups, IssuingOptions options);
  ~IssuingPipeline();  // Stops and joins the workers.
  IssuingPipeline(const IssuingPipeline&) = delete;
  IssuingPipeline& operator=(const IssuingPipeline&) = delete;

  // Issues and stores a document for every active credential of the institution that has
  // none. Returns how many were stored; a credential that cannot be rendered or signed is
  // logged and skipped (it stays pending), a database failure stops the run.
  Result<int> IssuePending(Database& database, const InstitutionConfig& institution);

  size_t workers() const { return issuers_.size(); }

 private:
  struct InFlight;  // One claimed chunk: its store, its credentials, the documents made.
  struct Job {
    InFlight* chunk = nullptr;
    size_t index = 0;
  };

  Result<std::unique_ptr<InFlight>> Claim(Database& database, const InstitutionConfig& institution,
                                          int64_t after_id);
  void Submit(InFlight& chunk);
  // Until the workers are done with `chunk`; meanwhile every 10 s a statement in the open
  // transactions of `chunk` and `also`, so a slow chunk is not taken for a frozen process.
  void Wait(InFlight& chunk, InFlight* also = nullptr);
  // Stores what was made and logs what failed; returns documents stored.
  Result<int> Commit(InFlight& chunk);
  void Work(size_t worker);
  bool Stopping() const { return options_.stop != nullptr && options_.stop->load(); }

  Logger& log_;
  IssuingOptions options_;
  std::vector<SigningSetup> setups_;
  std::vector<std::unique_ptr<DocumentIssuer>> issuers_;  // issuers_[w] belongs to worker w.
  std::mutex mu_;
  std::condition_variable work_ready_;
  std::condition_variable chunk_done_;
  std::deque<Job> jobs_;
  bool quit_ = false;
  std::vector<std::thread> threads_;
};

// `count` setups for the workers, each loaded on its own by `load` (so each has its own
// renderer and key); count 0 means one per core.
Result<std::vector<SigningSetup>> LoadWorkerSetups(
    const std::function<Result<SigningSetup>(const Config&)>& load, const Config& config,
    int count);

}  // namespace credd
