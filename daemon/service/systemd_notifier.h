// Speaks the systemd notify protocol (sd_notify(3)): READY, RELOADING, STOPPING, STATUS
// and WATCHDOG. Without NOTIFY_SOCKET every call is a cheap no-op, so the daemon runs the
// same under systemd, in a terminal and in tests.
// Thread contract: calls may come from any thread (each is one datagram).
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace credd {

class SystemdNotifier {
 public:
  SystemdNotifier() = default;

  void Ready(const std::string& status);
  void Reloading();
  void Stopping();
  void Status(const std::string& status);
  void Watchdog();

  // Half the watchdog period systemd asked for (WATCHDOG_USEC), or nothing when the
  // watchdog is off. Pinging at half the period leaves room for a slow tick.
  std::optional<std::chrono::microseconds> WatchdogPingInterval() const;

 private:
  void Send(const std::string& state);
};

}  // namespace credd
