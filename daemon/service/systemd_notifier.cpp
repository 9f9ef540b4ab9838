#include "daemon/service/systemd_notifier.h"

#include <systemd/sd-daemon.h>

namespace credd {

void SystemdNotifier::Send(const std::string& state) {
  // Failures are deliberately ignored: a missing or full notify socket must never stop
  // credd from doing its work, and systemd reports a missing READY on its own.
  (void)sd_notify(0, state.c_str());
}

void SystemdNotifier::Ready(const std::string& status) { Send("READY=1\nSTATUS=" + status); }
void SystemdNotifier::Reloading() { Send("RELOADING=1\nSTATUS=reloading configuration"); }
void SystemdNotifier::Stopping() { Send("STOPPING=1\nSTATUS=stopping"); }
void SystemdNotifier::Status(const std::string& status) { Send("STATUS=" + status); }
void SystemdNotifier::Watchdog() { Send("WATCHDOG=1"); }

std::optional<std::chrono::microseconds> SystemdNotifier::WatchdogPingInterval() const {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

}  // namespace credd
