#include "daemon/http/rate_limiter.h"

namespace credd::http {

int RateLimiter::Take(const std::string& address) { return Wait(address, true); }

int RateLimiter::Peek(const std::string& address) { return Wait(address, false); }

int RateLimiter::Wait(const std::string& address, bool count) {
  if (per_window_ <= 0) return 0;
  const auto now = clock_.Steady();
  std::lock_guard lock(mu_);
  Prune(now);
  Window& window = windows_[address];
  if (window.count == 0 || now - window.start >= window_) {
    window.start = now;
    window.count = 0;
  }
  if (window.count < per_window_) {
    if (count) ++window.count;
    return 0;
  }
  const auto left = std::chrono::ceil<std::chrono::seconds>(window.start + window_ - now);
  return static_cast<int>(std::max<std::chrono::seconds::rep>(1, left.count()));
}

void RateLimiter::Prune(std::chrono::steady_clock::time_point now) {
  if (now - last_prune_ < window_) return;
  last_prune_ = now;
  for (auto it = windows_.begin(); it != windows_.end();) {
    it = now - it->second.start >= window_ ? windows_.erase(it) : std::next(it);
  }
}

}  // namespace credd::http
