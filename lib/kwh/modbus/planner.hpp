#pragma once
// The read planner: which Modbus read requests fetch all values of one poll in the least bus
// time. Neighbouring registers of one table are merged into one request when reading the unused
// registers between them costs less wire time than another request; a request never exceeds
// 125 registers (2000 bits for coil/discrete). The plan is optimal under the RTU wire-time model
// below (dynamic programming over the values sorted by address, per table).

#include <kwh/modbus/profile.hpp>
#include <kwh/modbus/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace kwh::modbus {

inline constexpr int k_max_read_registers = 125;
inline constexpr int k_max_read_bits = 2000;

// One read request (function 1, 2, 3 or 4 by table) and the values it carries.
struct ReadRequest {
  Table table = Table::holding;
  std::uint16_t address = 0;
  std::uint16_t count = 0;          // registers, or bits for coil/discrete
  std::vector<std::size_t> values;  // indices into the list of specs that was planned
};

// Seconds one read transaction of `count` registers (or bits) takes on an RTU bus at `baud`:
// 11-bit characters; request 8 bytes (address, function, start, count, CRC); response
// 5 + data bytes (address, function, byte count, data, CRC) with 2 bytes per register or one per
// 8 bits; plus two silent gaps of 3.5 characters (fixed 1.75 ms each above 19200 baud, as the
// Modbus serial line specification says).
double wire_time(Table table, int count, int baud = 9600);
double wire_time(std::span<const ReadRequest> plan, int baud = 9600);

// The optimal plan for reading all of `specs` (requests ordered by table, then address). With
// max_gap >= 0, no request skips more than max_gap registers (bits) between its values.
std::vector<ReadRequest> plan_reads(std::span<const ValueSpec> specs, int baud = 9600, int max_gap = -1);
// The plan for one poll of a profile's values (indices into profile.values), within its max_gap.
// A DL/T 645 profile's plan has one request per value (its data identifier).
std::vector<ReadRequest> plan_reads(const Profile& profile, int baud = 9600);
// One request per value: what a planner-less poller would do (the benchmark's baseline).
std::vector<ReadRequest> plan_one_per_value(std::span<const ValueSpec> specs);

// Decodes the value specs[i] out of the data a request returned (`data` holds request.count
// words; for coil/discrete one word, 0 or 1, per bit). nullopt when the value is not inside the
// request, the data is short, or the value cannot be decoded (NaN).
std::optional<Value> decode_from(const ReadRequest& request, std::span<const std::uint16_t> data,
                                 const ValueSpec& spec, WordOrder order);

} // namespace kwh::modbus
