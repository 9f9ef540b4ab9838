#include "daemon/pipeline/issuing_pipeline.h"

#include <chrono>
#include <optional>
#include <string>

#include "daemon/store/document_store.h"

namespace credd {

// One claimed chunk: the connection whose transaction holds its rows, the credentials, and
// what the workers made of each (filled in by index; `remaining` counts the rest).
struct IssuingPipeline::InFlight {
  std::unique_ptr<Store> store;
  std::unique_ptr<PendingChunk> chunk;
  const InstitutionConfig* institution = nullptr;
  std::vector<std::optional<Result<NewDocument>>> made;
  size_t remaining = 0;  // Guarded by the pipeline's mu_.
  std::chrono::steady_clock::time_point claimed_at;
};

IssuingPipeline::IssuingPipeline(Logger& log, std::vector<SigningSetup> setups,
                                 IssuingOptions options)
    : log_(log), options_(std::move(options)), setups_(std::move(setups)) {
  for (SigningSetup& setup : setups_) {
    IssuerOptions issuer_options = IssuerOptionsFor(setup, options_.actor);
    issuer_options.clock = options_.clock;
    issuer_options.heartbeat = options_.heartbeat;
    issuers_.push_back(std::make_unique<DocumentIssuer>(log_, *setup.renderer, *setup.key,
                                                        std::move(issuer_options)));
  }
  for (size_t w = 0; w < issuers_.size(); ++w) threads_.emplace_back([this, w] { Work(w); });
  log_.Info("issuing.ready", {{"workers", std::to_string(issuers_.size())},
                              {"chunk_size", std::to_string(options_.chunk_size)}});
}

IssuingPipeline::~IssuingPipeline() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  work_ready_.notify_all();
  for (std::thread& t : threads_) t.join();
}

Result<int> IssuingPipeline::IssuePending(Database& database,
                                          const InstitutionConfig& institution) {
  // Claim the next chunk and hand it to the workers, then store the one they signed before:
  // the workers sign while the coordinator talks to the database.
  int64_t after_id = 0;  // The last credential claimed: what failed stays behind it.
  std::unique_ptr<InFlight> signing;
  int issued = 0;
  for (;;) {
    std::unique_ptr<InFlight> next;
    if (!Stopping()) {
      auto claimed = Claim(database, institution, after_id);
      if (!claimed) {
        if (signing) Wait(*signing);  // Rolled back when it goes: its rows are pending again.
        return claimed.error();
      }
      next = std::move(claimed).value();
      if (next) {
        after_id = next->chunk->credentials().back().id;
        Submit(*next);
      }
    }
    if (signing) {
      Wait(*signing, next.get());
      auto stored = Commit(*signing);
      if (!stored) {
        if (next) Wait(*next);
        return stored.error();
      }
      issued += *stored;
    }
    if (!next) break;
    signing = std::move(next);
  }
  return issued;
}

Result<std::unique_ptr<IssuingPipeline::InFlight>> IssuingPipeline::Claim(
    Database& database, const InstitutionConfig& institution, int64_t after_id) {
  // A connection of its own per chunk in flight: its transaction holds the rows.
  auto store = database.Connect();
  if (!store) return store.error();
  auto chunk = PendingChunk::Claim(**store, institution.id, options_.chunk_size, after_id);
  if (!chunk) return chunk.error();
  if ((*chunk)->credentials().empty()) return std::unique_ptr<InFlight>();
  auto in_flight = std::make_unique<InFlight>();
  in_flight->store = std::move(store).value();
  in_flight->chunk = std::move(chunk).value();
  in_flight->institution = &institution;
  in_flight->made.resize(in_flight->chunk->credentials().size());
  in_flight->remaining = in_flight->made.size();
  in_flight->claimed_at = options_.clock->Steady();
  return in_flight;
}

void IssuingPipeline::Submit(InFlight& chunk) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < chunk.made.size(); ++i) jobs_.push_back({&chunk, i});
  }
  work_ready_.notify_all();
}

void IssuingPipeline::Wait(InFlight& chunk, InFlight* also) {
  std::unique_lock<std::mutex> lock(mu_);
  while (
      !chunk_done_.wait_for(lock, std::chrono::seconds(10), [&] { return chunk.remaining == 0; })) {
    // Only this thread uses the chunks' connections; errors show at commit.
    lock.unlock();
    (void)chunk.chunk->KeepAlive();
    if (also != nullptr) (void)also->chunk->KeepAlive();
    lock.lock();
  }
}

void IssuingPipeline::Work(size_t worker) {
  // Take the next credential of the oldest chunk, render and sign it with this worker's own
  // issuer, and hand the document back.
  const DocumentIssuer& issuer = *issuers_[worker];
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_ready_.wait(lock, [&] { return quit_ || !jobs_.empty(); });
    if (quit_) return;
    Job job = jobs_.front();
    jobs_.pop_front();
    lock.unlock();
    const PendingCredential& credential = job.chunk->chunk->credentials()[job.index];
    Result<NewDocument> document = MakeError(ErrorCode::kInternal, "not made");
    const Clock::SteadyTime started = options_.clock->Steady();
    try {
      document = issuer.Make(*job.chunk->institution, credential);
    } catch (const std::exception& e) {
      document = MakeError(ErrorCode::kInternal, std::string("issuing threw: ") + e.what(),
                           credential.source_ref);
    }
    if (options_.metrics != nullptr && document) {
      options_.metrics->render_sign.With({}).Observe(
          std::chrono::duration<double>(options_.clock->Steady() - started).count());
    }
    if (options_.heartbeat != nullptr) options_.heartbeat->Beat();
    lock.lock();
    job.chunk->made[job.index] = std::move(document);
    if (--job.chunk->remaining == 0) chunk_done_.notify_all();
  }
}

Result<int> IssuingPipeline::Commit(InFlight& chunk) {
  // One transaction stores the chunk's documents; each failure is logged and skipped.
  const InstitutionConfig& institution = *chunk.institution;
  const std::vector<PendingCredential>& credentials = chunk.chunk->credentials();
  std::vector<NewDocument> documents;
  for (size_t i = 0; i < credentials.size(); ++i) {
    Result<NewDocument>& made = *chunk.made[i];
    if (made) {
      documents.push_back(std::move(made).value());
      continue;
    }
    log_.Error("document.failed", {{"institution", institution.id},
                                   {"credential", std::to_string(credentials[i].id)},
                                   {"error", made.error().ToString()}});
  }
  auto ids = chunk.chunk->Commit(documents, options_.actor);
  if (!ids) return ids.error();
  if (options_.metrics != nullptr) {
    options_.metrics->documents_issued.With({institution.id})
        .Add(static_cast<double>(documents.size()));
    if (documents.size() < credentials.size()) {
      options_.metrics->documents_failed.With({institution.id})
          .Add(static_cast<double>(credentials.size() - documents.size()));
    }
  }
  for (size_t i = 0; i < documents.size(); ++i) {
    log_.Debug("document.issued", {{"institution", institution.id},
                                   {"document", documents[i].public_id},
                                   {"credential", std::to_string(documents[i].credential)}});
  }
  const auto elapsed = options_.clock->Steady() - chunk.claimed_at;
  log_.Info("documents.chunk_stored",
            {{"institution", institution.id},
             {"documents", std::to_string(documents.size())},
             {"failed", std::to_string(credentials.size() - documents.size())},
             {"first_credential", std::to_string(credentials.front().id)},
             {"last_credential", std::to_string(credentials.back().id)},
             {"ms", std::to_string(
                        std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count())}});
  return static_cast<int>(documents.size());
}

Result<std::vector<SigningSetup>> LoadWorkerSetups(
    const std::function<Result<SigningSetup>(const Config&)>& load, const Config& config,
    int count) {
  if (count <= 0) count = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<SigningSetup> setups;
  for (int i = 0; i < count; ++i) {
    auto setup = load(config);
    if (!setup) return setup.error();
    setups.push_back(std::move(setup).value());
  }
  return setups;
}

}  // namespace credd
