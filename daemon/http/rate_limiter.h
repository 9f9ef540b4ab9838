// Requests per minute per client address, in this process: a fixed one-minute window per
// address, answered with the seconds until it opens again (Retry-After). Several credd
// processes behind one proxy each count their own share (docs/decisions.md).
// Thread contract: thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/clock.h"

namespace credd::http {

class RateLimiter {
 public:
  // `per_window` requests per key in each window (a minute unless given); 0 turns the
  // limit off. Keys are client addresses, or anything else counted per key (the sign-in
  // failures of one email address).
  RateLimiter(int per_window, const Clock& clock,
              std::chrono::seconds window = std::chrono::seconds(60))
      : per_window_(per_window), clock_(clock), window_(window) {}

  // Zero when the request may go ahead (and is counted); otherwise the whole seconds, at
  // least 1, until the address's window opens again.
  int Take(const std::string& address);
  // The same answer, without counting.
  int Peek(const std::string& address);

 private:
  struct Window {
    std::chrono::steady_clock::time_point start;
    int count = 0;
  };
  // Forgets windows that have ended, so a scan from many addresses cannot grow the map.
  void Prune(std::chrono::steady_clock::time_point now);

  int Wait(const std::string& address, bool count);

  const int per_window_;
  const Clock& clock_;
  const std::chrono::seconds window_;
  std::mutex mu_;
  std::unordered_map<std::string, Window> windows_;
  std::chrono::steady_clock::time_point last_prune_{};
};

}  // namespace credd::http
