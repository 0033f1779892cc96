#pragma once
// Telling systemd how kwhd is doing (sd_notify protocol): datagrams such as "READY=1",
// "STATUS=polling 1980 of 2000 meters, 20 offline", "WATCHDOG=1" and "STOPPING=1" to the
// AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an abstract name starting with '@').
// Written here rather than linking libsystemd: the protocol is one sendto().

#include <chrono>
#include <optional>
#include <string>

namespace kwh::daemon {

class Notifier {
public:
  // From the environment ($NOTIFY_SOCKET, $WATCHDOG_USEC, $WATCHDOG_PID). Without
  // NOTIFY_SOCKET every call does nothing.
  static Notifier from_environment();
  explicit Notifier(std::string socket_name, std::optional<std::chrono::microseconds> watchdog = {});
  Notifier() = default;
  ~Notifier();
  Notifier(Notifier&& o) noexcept;
  Notifier& operator=(Notifier&& o) noexcept;
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  bool enabled() const { return m_fd >= 0; }
  // Sends one datagram of "KEY=value" lines; false when it could not be sent.
  bool send(const std::string& state);
  bool ready() { return send("READY=1"); }
  bool status(const std::string& text) { return send("STATUS=" + text); }
  bool watchdog() { return send("WATCHDOG=1"); }
  bool stopping() { return send("STOPPING=1"); }
  bool reloading() { return send("RELOADING=1"); }

  // How often to send WATCHDOG=1: half of WATCHDOG_USEC, when systemd asked for it.
  std::optional<std::chrono::milliseconds> watchdog_period() const;

private:
  int m_fd = -1;
  std::string m_name;
  std::optional<std::chrono::microseconds> m_watchdog;
};

} // namespace kwh::daemon
