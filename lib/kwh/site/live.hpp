#pragma once
// Talking to a meter now, over its gateway: reading every value of its profile, and switching
// its relay. The CLI's --direct paths use these with the transport's synchronous Client; the
// daemon carries out queued commands with the same relay words.

#include <kwh/modbus/planner.hpp>
#include <kwh/modbus/profile.hpp>
#include <kwh/modbus/value.hpp>
#include <kwh/output/json.hpp>
#include <kwh/site/meter.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/transport/client.hpp>
#include <kwh/util/time.hpp>

#include <optional>
#include <string>
#include <vector>

namespace kwh::site {

// A meter's values at one time, canonical units (kwh-profile(5)), in profile order.
// Values that could not be decoded are absent, never zero.
struct LiveReading {
  UnixTime time = 0;
  std::vector<modbus::Value> values;

  const modbus::Value* find(std::string_view name) const;
};

// The JSON a value is shown and stored as: an exact integer for energy, volume and money,
// a real otherwise.
output::Json value_json(const modbus::Value& v);
// {"energy_total": 123456, "voltage_a": 229.8, ...}
output::Json values_json(const LiveReading& r);

// What names a meter on the bus in errors: "meter M1 (gateway G1, unit 3)".
std::string bus_name(const Meter& m);

// Reads all values of the meter's profile with the planned requests. Any failed request is an
// Error (transport::to_error: 69 when unreachable) naming the meter, its gateway and unit; a
// profile total (energy_total or volume_total) that does not decode is Error(failed).
LiveReading read_live(transport::Client& client, const Meter& m, const modbus::Profile& p);

// Stores a live reading as the meter's latest values (meter_values), unless a newer one is
// there already (as kwhd's writer does). Charging readings is
// the billing path's work; this keeps only the latest values for `meter show` and `meter read`.
void store_values(storage::Database& db, const Meter& m, const LiveReading& r);

// The meter's latest stored values (meter_values), if it was ever read.
std::optional<LiveReading> stored_values(storage::Database& db, std::int64_t meter_id);

// The outcome of switching a relay over the bus.
struct RelaySwitch {
  bool on = false;
  // What reading the relay back said: "on", "off", or "unreadable" (a write-only register).
  std::string readback;
  // Words or bit read back, for the commands table: "0x0001 0x0000".
  std::string readback_words;
};

// DL/T 645: the request that reads one data identifier from the meter at `address` (12 digits).
transport::Request dlt645_read_request(const std::string& address, std::uint32_t di);
// What a DL/T 645 read reply says: the value (`out`); a refusal, an error reply (the meter has no
// such data), which leaves the value missing; or a frame that is not the answer. `why` says
// what, for the last two.
enum class Dlt645Read { value, refused, bad };
Dlt645Read decode_dlt645_read(const std::string& address, const modbus::ValueSpec& spec, const transport::Response& r,
                              std::optional<modbus::Value>& out, std::string& why);

// The profile's [relay], or Error(data) naming the meter and profile when it has none.
const modbus::RelaySpec& relay_of(const Meter& m, const modbus::Profile& p);

// The request that switches the relay: the profile's [relay] words with function 16 (6 with
// write = "single" and one word), or function 5 for a coil. For the daemon's asynchronous bus
// as much as for switch_relay below.
transport::Request relay_write_request(const Meter& m, const modbus::Profile& p, bool on);
// The request that reads the relay's words (or bit) back.
transport::Request relay_read_request(const Meter& m, const modbus::Profile& p);
// What a read-back says: "on" or "off" when it holds the profile's on or off words, else
// "unknown" (meters whose relay register reads back a status of its own).
std::string relay_readback_state(const modbus::RelaySpec& relay, const transport::Response& back);
// "0x0001 0x0000" (or "1" for a coil), for the commands table's readback column.
std::string readback_text(const modbus::RelaySpec& relay, const transport::Response& back);

// Writes the profile's [relay] words (function 16, or 6 with write = "single"; function 5 for a
// coil) and reads them back where the meter allows. A failed write is the transport's Error
// naming the meter, gateway and unit; a read-back that shows the opposite state is Error(failed).
RelaySwitch switch_relay(transport::Client& client, const Meter& m, const modbus::Profile& p, bool on);

// Records a relay switched by kwh: meters.relay_state (and relay_reason when opened), and a
// `relay_changed` event for the meter, its gateway and its open account. Call it inside the
// Transaction that records the command.
void record_relay(storage::Database& db, const Meter& m, bool on, const std::string& reason);

// An operator's switch carried out at once (`kwh relay on|off --direct`): switches the relay,
// then records the state, the event and a done command row in one transaction; a failure
// records a failed command row and is rethrown.
RelaySwitch switch_now(storage::Database& db, transport::Client& client, const Meter& m, const modbus::Profile& p,
                       bool on, const std::string& operator_name);

// `kwh gateway test`: what one probe of a gateway found.
struct Probe {
  std::string meter; // empty when the gateway has no meters and unit 1 was asked
  int unit = 1;
  bool answered = false;
  bool unreachable = false; // failed with 69 (as opposed to an answer that was wrong)
  std::int64_t ms = 0;
  std::string detail;
};
// Asks each in-service meter on the gateway for the first value of its profile: cheap, and it
// proves the whole path (connection, framing, unit address). A gateway with no meters is asked
// for one register of unit 1; any answer, even an exception reply, shows that it is there.
std::vector<Probe> probe_gateway(storage::Database& db, transport::Client& client, const Gateway& g,
                                 const std::vector<std::string>& profile_folders);

} // namespace kwh::site
