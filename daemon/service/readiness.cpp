#include "daemon/service/readiness.h"

#include <fcntl.h>
#include <unistd.h>

#include "common/posix_error.h"
#include "daemon/store/migrations.h"
#include "daemon/watch/claim.h"

namespace credd {

Readiness::Readiness(Sources sources, const Clock& clock, std::chrono::seconds cache)
    : sources_(std::move(sources)), clock_(clock), cache_(cache) {}

std::vector<std::string> Readiness::Reasons() {
  std::lock_guard lock(mu_);
  std::vector<std::string> reasons;
  if (auto problem = Database()) reasons.push_back("database: " + *problem);
  const std::shared_ptr<const Config> config = sources_.config();
  for (std::string& problem : DropFolders(*config)) reasons.push_back(std::move(problem));
  if (sources_.signing_key) {
    if (auto problem = Cached(key_, sources_.signing_key)) {
      reasons.push_back("signing key: " + *problem);
    }
  }
  if (sources_.mail) {
    if (auto problem = Cached(mail_, [&] { return sources_.mail(*config); })) {
      reasons.push_back("mail: " + *problem);
    }
  }
  return reasons;
}

std::optional<std::string> Readiness::Database() {
  auto store = sources_.pool->Acquire();
  if (!store) return store.error().ToString();
  if (Status schema = CheckSchemaVersion(**store); !schema) return schema.error().ToString();
  return std::nullopt;
}

std::vector<std::string> Readiness::DropFolders(const Config& config) {
  // A hidden file (never claimed by anyone) made in incoming/ and moved into processing/ by
  // the same move that claims use, then removed.
  std::vector<std::string> problems;
  for (const InstitutionConfig& institution : config.institutions) {
    const std::string dir = config.DropDirFor(institution);
    const std::string name =
        ".credd-ready." + std::to_string(::getpid()) + "." + std::to_string(++probes_);
    const std::string made = dir + "/incoming/" + name;
    const int fd = ::open(made.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      problems.push_back(
          "drop folder " + institution.id + ": " +
          PosixError(ErrorCode::kIo, "cannot create a file", errno, made).ToString());
      continue;
    }
    ::close(fd);
    auto moved = MoveBetween(dir, "incoming", name, "processing");
    if (!moved) {
      ::unlink(made.c_str());
      problems.push_back("drop folder " + institution.id + ": " + moved.error().ToString());
      continue;
    }
    ::unlink((dir + "/processing/" + *moved).c_str());
  }
  return problems;
}

std::optional<std::string> Readiness::Cached(Remembered& remembered,
                                             const std::function<Status()>& check) {
  const Clock::SteadyTime now = clock_.Steady();
  if (!remembered.asked || now - remembered.at >= cache_) {
    const Status status = check();
    remembered.asked = true;
    remembered.at = now;
    remembered.problem =
        status ? std::nullopt : std::optional<std::string>(status.error().ToString());
  }
  return remembered.problem;
}

}  // namespace credd
