#pragma once
// The gateways and meters kwhd polls, as loaded from the database at start-up and on SIGHUP:
// in-service meters grouped by gateway, each with its profile and read plan resolved once
// (meters of one model share them), and the statuses kwhd keeps.

#include <kwh/config/config.hpp>
#include <kwh/daemon/health.hpp>
#include <kwh/modbus/planner.hpp>
#include <kwh/modbus/profile.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/transport/bus.hpp>

#include <memory>
#include <string>
#include <vector>

namespace kwh::daemon {

// A profile with its read plan, shared by every meter of that model.
struct Model {
  modbus::Profile profile;
  std::vector<modbus::ReadRequest> plan;
};

struct MeterTarget {
  std::int64_t id = 0;
  std::string name;
  std::int64_t gateway_id = 0;
  std::uint8_t unit = 1;
  std::string address; // DL/T 645: the 12-digit address
  // The multi-user device it is a circuit of (meters.device); empty for a meter of its own.
  std::string device;
  std::shared_ptr<const Model> model;
  Status status = Status::unknown;
  int failed_polls = 0;
};

struct GatewayTarget {
  std::int64_t id = 0;
  std::string name;
  transport::GatewaySpec spec;
  // DL/T 645: what relay commands carry, 8 hex digits each (PA P0 P1 P2; C0..C3).
  std::string password = "02000000", operator_code = "00000000";
  Status status = Status::unknown;
  std::vector<MeterTarget> meters; // by unit
};

struct Roster {
  std::vector<GatewayTarget> gateways; // by name
  std::size_t meter_count() const;
  // "meter M7 skipped: ..." for meters that cannot be polled (their profile is missing or bad).
  std::vector<std::string> problems;
};

// Reads the roster. A meter whose profile cannot be loaded is left out, with a problem line.
Roster load_roster(storage::Database& db, const config::Config& cfg);

} // namespace kwh::daemon
