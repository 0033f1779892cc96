#pragma once
// Gateways: the paths to buses of meters (SPEC.md "Words"). A gateway is Modbus TCP, Modbus RTU
// framed over a raw TCP socket, or Modbus RTU on a local serial port; each has its own
// response timeout and the silent gap its bus needs between requests.

#include <kwh/storage/database.hpp>
#include <kwh/transport/bus.hpp>
#include <kwh/util/time.hpp>

#include <chrono>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kwh::site {

// The transport a gateway speaks is the transport layer's Kind: tcp, rtu_over_tcp, rtu_serial,
// written "tcp", "rtu-over-tcp", "rtu" in the CLI and the database (transport::kind_name).
using Transport = transport::Kind;

struct Gateway {
  std::int64_t id = 0; // 0 until stored
  std::string name;
  Transport transport = Transport::tcp;
  std::string address;             // host:port for tcp and rtu-over-tcp; the device for rtu
  std::optional<int> baud;         // rtu only (default 9600)
  std::optional<char> parity;      // rtu only: 'N', 'E' or 'O' (default 'N')
  std::optional<int> stop_bits;    // rtu only: 1 or 2 (default 1)
  std::optional<int> timeout_ms;   // nullopt: the [poll] timeout
  int gap_ms = 0;                  // silence between requests on the bus
  std::string status = "unknown";  // unknown | online | offline (kept by kwhd)
  std::optional<UnixTime> status_since;
  UnixTime created = 0;

  // How the transport reaches it; `default_timeout` is the [poll] timeout, for gateways
  // that do not set their own.
  transport::GatewaySpec spec(std::chrono::milliseconds default_timeout) const;
};

// A name for gateways and meters: 1..64 characters, no blanks or control characters, not
// starting with '-' (ids travel through pipes one a line, and must not look like options).
// Error(usage) naming `what` and the text otherwise.
void check_name(std::string_view what, std::string_view name);

// Checks a gateway's fields (address form, serial settings only for rtu, ranges) and fills in
// the serial defaults for rtu. Error(usage) naming the field.
void validate(Gateway& g);

// Stores a new gateway; returns it with its id. Error(data) when the name is taken.
Gateway add_gateway(storage::Database& db, Gateway g);
std::optional<Gateway> find_gateway(storage::Database& db, std::string_view name);
std::optional<Gateway> find_gateway(storage::Database& db, std::int64_t id);
// As find_gateway, but Error(no_input) naming the gateway when there is none.
Gateway get_gateway(storage::Database& db, std::string_view name);
Gateway get_gateway(storage::Database& db, std::int64_t id);
std::vector<Gateway> list_gateways(storage::Database& db);
// Writes every field but id, created and status. Error(no_input) for an unknown id.
void update_gateway(storage::Database& db, Gateway g);
// Removes a gateway that carries nothing. Refused with Error(data) naming the meters that are
// still on it, or naming the history (removed meters, events) that keeps it.
void remove_gateway(storage::Database& db, std::string_view name);

// Names of the in-service meters on a gateway, in name order.
std::vector<std::string> meters_on_gateway(storage::Database& db, std::int64_t gateway_id);

} // namespace kwh::site
