// GET /readyz: whether this credd can do its work now. Four checks, each a reason when it
// fails: the database (reachable, and at the schema this credd knows), each institution's
// drop folder (a file can be created in incoming/ and moved into processing/ the way
// claims move files, rename fallback included), the signing key (it signs), and the mail
// transport (it connects: one refused message is the relay's answer, not unreadiness).
// The key and the relay are asked at most once per `cache` period, so a probe every few
// seconds does not open an SMTP connection or a token session each time.
// Thread contract: Reasons() may be called from several threads; checks run one at a time.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "daemon/config/config.h"
#include "daemon/store/store_pool.h"

namespace credd {

class Readiness {
 public:
  struct Sources {
    StorePool* pool = nullptr;
    std::function<std::shared_ptr<const Config>()> config;  // The running config.
    std::function<Status()> signing_key;        // Signs something with the key; null = no key.
    std::function<Status(const Config&)> mail;  // Connects to the relay (or the maildir).
  };
  Readiness(Sources sources, const Clock& clock,
            std::chrono::seconds cache = std::chrono::seconds(15));

  // Why credd is not ready ("database: ...", "drop folder example-college: ..."); empty when
  // it is.
  std::vector<std::string> Reasons();

 private:
  // A check's last answer (the error's text, or nothing when it passed) and when it was asked.
  struct Remembered {
    bool asked = false;
    std::optional<std::string> problem;
    Clock::SteadyTime at{};
  };
  std::optional<std::string> Database();
  std::vector<std::string> DropFolders(const Config& config);
  std::optional<std::string> Cached(Remembered& remembered, const std::function<Status()>& check);

  Sources sources_;
  const Clock& clock_;
  const std::chrono::seconds cache_;
  std::mutex mu_;  // One set of checks at a time; guards the Remembered answers.
  Remembered key_;
  Remembered mail_;
  unsigned long probes_ = 0;
};

}  // namespace credd
