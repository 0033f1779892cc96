#pragma once
// Whether meters and gateways answer. A meter goes offline after [poll] offline_after failed
// polls in a row and comes back online on the next success; a gateway is offline when every
// one of its meters is offline, and online again as soon as one answers. Only changes are
// reported, so that each writes one event. A multi-user device (an ADF400L) is to its circuits
// what a gateway is to its meters.

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

namespace kwh::daemon {

enum class Status { unknown, online, offline };
const char* status_name(Status s);
Status parse_status(const std::string& text); // anything unexpected is unknown

class MeterHealth {
public:
  MeterHealth() = default;
  MeterHealth(Status status, int failed_polls) : m_status(status), m_failed(failed_polls) {}

  // A poll answered. Returns the new status when it changed.
  std::optional<Status> succeeded();
  // A poll failed. Returns the new status when it changed (offline at offline_after failures).
  std::optional<Status> failed(int offline_after);

  Status status() const { return m_status; }
  int failed_polls() const { return m_failed; }

private:
  Status m_status = Status::unknown;
  int m_failed = 0;
};

// A gateway's status from the statuses of its meters.
class GatewayHealth {
public:
  GatewayHealth() = default;
  explicit GatewayHealth(Status status) : m_status(status) {}

  // Counts of the gateway's meters by status after a change; returns the gateway's new status
  // when it changed. No meters at all leaves it as it is.
  std::optional<Status> update(std::size_t online, std::size_t offline, std::size_t total);
  Status status() const { return m_status; }

private:
  Status m_status = Status::unknown;
};

// A multi-user device's status from the statuses of its circuits, by the gateway's rule:
// offline when every circuit is, online again as soon as one answers.
using DeviceHealth = GatewayHealth;

} // namespace kwh::daemon
