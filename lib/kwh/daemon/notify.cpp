#include <kwh/daemon/notify.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace kwh::daemon {

Notifier Notifier::from_environment() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  if (!socket || !*socket) return Notifier();
  std::optional<std::chrono::microseconds> watchdog;
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* pid = std::getenv("WATCHDOG_PID");
  bool for_us = !pid || !*pid || std::strtoll(pid, nullptr, 10) == static_cast<long long>(::getpid());
  if (usec && *usec && for_us) {
    long long v = std::strtoll(usec, nullptr, 10);
    if (v > 0) watchdog = std::chrono::microseconds(v);
  }
  return Notifier(socket, watchdog);
}

Notifier::Notifier(std::string socket_name, std::optional<std::chrono::microseconds> watchdog)
    : m_name(std::move(socket_name)), m_watchdog(watchdog) {
  if (m_name.empty() || m_name.size() >= sizeof(sockaddr_un::sun_path)) return;
  if (m_name[0] != '/' && m_name[0] != '@') return;
  m_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

Notifier::~Notifier() {
  if (m_fd >= 0) ::close(m_fd);
}

Notifier::Notifier(Notifier&& o) noexcept : m_fd(o.m_fd), m_name(std::move(o.m_name)), m_watchdog(o.m_watchdog) {
  o.m_fd = -1;
}

Notifier& Notifier::operator=(Notifier&& o) noexcept {
  if (this != &o) {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = o.m_fd;
    m_name = std::move(o.m_name);
    m_watchdog = o.m_watchdog;
    o.m_fd = -1;
  }
  return *this;
}

bool Notifier::send(const std::string& state) {
  if (m_fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, m_name.data(), m_name.size());
  // An abstract socket: a leading NUL instead of '@', and the length counts only the name.
  if (m_name[0] == '@') addr.sun_path[0] = '\0';
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + m_name.size());
  return ::sendto(m_fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len) ==
         static_cast<ssize_t>(state.size());
}

std::optional<std::chrono::milliseconds> Notifier::watchdog_period() const {
  if (!m_watchdog) return std::nullopt;
  auto half = std::chrono::duration_cast<std::chrono::milliseconds>(*m_watchdog / 2);
  return std::max(half, std::chrono::milliseconds(1));
}

} // namespace kwh::daemon
