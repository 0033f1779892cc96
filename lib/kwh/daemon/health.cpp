#include <kwh/daemon/health.hpp>

#include <algorithm>

namespace kwh::daemon {

const char* status_name(Status s) {
  switch (s) {
  case Status::online: return "online";
  case Status::offline: return "offline";
  case Status::unknown: break;
  }
  return "unknown";
}

Status parse_status(const std::string& text) {
  if (text == "online") return Status::online;
  if (text == "offline") return Status::offline;
  return Status::unknown;
}

std::optional<Status> MeterHealth::succeeded() {
  m_failed = 0;
  if (m_status == Status::online) return std::nullopt;
  m_status = Status::online;
  return m_status;
}

std::optional<Status> MeterHealth::failed(int offline_after) {
  ++m_failed;
  if (m_status == Status::offline || m_failed < std::max(offline_after, 1)) return std::nullopt;
  m_status = Status::offline;
  return m_status;
}

std::optional<Status> GatewayHealth::update(std::size_t online, std::size_t offline, std::size_t total) {
  if (total == 0) return std::nullopt;
  Status next = m_status;
  if (online > 0)
    next = Status::online;
  else if (offline == total)
    next = Status::offline;
  if (next == m_status) return std::nullopt;
  m_status = next;
  return next;
}

} // namespace kwh::daemon
