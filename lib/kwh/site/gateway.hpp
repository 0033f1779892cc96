#pragma once
// Gateways: the paths to buses of meters (kwh-gateway(1)). A gateway is Modbus TCP, Modbus RTU
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
  transport::Protocol protocol = transport::Protocol::modbus;
  std::optional<std::string> password;      // DL/T 645: 8 hex digits, PA P0 P1 P2 (default 02000000)
  std::optional<std::string> operator_code; // DL/T 645: 8 hex digits (default 00000000)
  std::optional<std::string> rts;           // rtu only: "up" or "down" (RS-485 direction by RTS)
  std::optional<int> rts_delay_us;          // with rts: microseconds before and after sending
  std::string status = "unknown";  // unknown | online | offline (kept by kwhd)
  std::optional<UnixTime> status_since;
  UnixTime created = 0;
  std::optional<UnixTime> retired; // kwh gateway retire: polled no more, history kept

  // How the transport reaches it; `default_timeout` is the [poll] timeout, for gateways
  // that do not set their own.
  transport::GatewaySpec spec(std::chrono::milliseconds default_timeout) const;
};

// A name for gateways and meters: 1..64 characters, no blanks or control characters, not
// starting with '-' (ids travel through pipes one a line, and must not look like options).
// Error(usage) naming `what` and the text otherwise.
void check_name(std::string_view what, std::string_view name);

// Checks a gateway's fields (address form, serial settings only for rtu, ranges; DL/T 645 only
// over rtu-over-tcp or rtu, its password and operator code only for it) and fills in the serial
// defaults for rtu: 9600 8N1 for Modbus, 2400 8E1 for DL/T 645. Error(usage) naming the field.
void validate(Gateway& g);

// Stores a new gateway; returns it with its id. Error(data) when the name is taken.
Gateway add_gateway(storage::Database& db, Gateway g);
// The same in the caller's transaction.
Gateway add_gateway_in(storage::Database& db, Gateway g);
std::optional<Gateway> find_gateway(storage::Database& db, std::string_view name);
std::optional<Gateway> find_gateway(storage::Database& db, std::int64_t id);
// As find_gateway, but Error(no_input) naming the gateway when there is none.
Gateway get_gateway(storage::Database& db, std::string_view name);
Gateway get_gateway(storage::Database& db, std::int64_t id);
std::vector<Gateway> list_gateways(storage::Database& db);
// Writes every field but id, created and status. Error(no_input) for an unknown id.
void update_gateway(storage::Database& db, Gateway g);
// The same in the caller's transaction.
void update_gateway_in(storage::Database& db, Gateway g);
// Removes a gateway that carries nothing. Refused with Error(data) naming the meters that are
// still on it, or naming the history (removed meters, events) that keeps it.
void remove_gateway(storage::Database& db, std::string_view name);
// Retires a gateway with history (`kwh gateway retire`): it leaves polling and the default
// list, its meters leave service (marked removed, their pending commands cancelled) and every
// reading, event and ledger entry stays for reports and statements. Refused with Error(data)
// while one of its meters is on an open account, or when it is retired already.
Gateway retire_gateway(storage::Database& db, std::string_view name);

// "modbus" | "dlt645", as in the database and the CLI's JSON.
const char* protocol_name(transport::Protocol p);

// Names of the in-service meters on a gateway, in name order.
std::vector<std::string> meters_on_gateway(storage::Database& db, std::int64_t gateway_id);

} // namespace kwh::site
