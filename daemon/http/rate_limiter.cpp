#include "daemon/http/rate_limiter.h"

namespace credd::http {

namespace {
constexpr std::chrono::seconds kWindow{60};
}  // namespace

int RateLimiter::Take(const std::string& address) {
  if (per_minute_ <= 0) return 0;
  const auto now = clock_.Steady();
  std::lock_guard lock(mu_);
  Prune(now);
  Window& window = windows_[address];
  if (window.count == 0 || now - window.start >= kWindow) {
    window.start = now;
    window.count = 0;
  }
  if (window.count < per_minute_) {
    ++window.count;
    return 0;
  }
  const auto left = std::chrono::ceil<std::chrono::seconds>(window.start + kWindow - now);
  return static_cast<int>(std::max<std::chrono::seconds::rep>(1, left.count()));
}

void RateLimiter::Prune(std::chrono::steady_clock::time_point now) {
  if (now - last_prune_ < kWindow) return;
  last_prune_ = now;
  for (auto it = windows_.begin(); it != windows_.end();) {
    it = now - it->second.start >= kWindow ? windows_.erase(it) : std::next(it);
  }
}

}  // namespace credd::http
