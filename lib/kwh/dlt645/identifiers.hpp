#pragma once
// DL/T 645-2007 data identifiers (DI) and their values: the table of the ones kwh reads, by
// the names the Modbus profiles use (energy_total, voltage_a, meter_balance...), and the BCD
// decoding of the value bytes a read reply carries. Values come out exactly: a byte that is not
// two BCD digits is an error, never a made-up number; energy and money are integers in Wh and
// minor units, like the Modbus decoder's (modbus/value.hpp).

#include <kwh/util/error.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kwh::dlt645 {

enum class Encoding : std::uint8_t {
  bcd,        // unsigned BCD, lowest byte first
  bcd_signed, // the same, but the top bit of the highest (last) byte is the sign: 1 = negative
  bits,       // a binary word (status words), lowest byte first
};

// One identifier of the standard's appendix A, as kwh uses it.
struct Identifier {
  std::string_view name;   // as in the Modbus profiles: "energy_total"
  std::uint32_t di = 0;    // DI3 DI2 DI1 DI0: 0x00010000 (sent 00 00 01 00)
  std::uint8_t bytes = 0;  // value bytes after the DI
  Encoding encoding = Encoding::bcd;
  std::string_view format; // the standard's data format: "XXXXXX.XX"
  std::uint8_t decimals = 0;
  std::string_view unit;           // the standard's unit: "kWh"
  std::string_view canonical_unit; // what kwh stores: "Wh" ("" for power factor and status words)
  std::int8_t exponent = 0;        // canonical = raw × 10^exponent (kWh with 2 decimals → Wh: +1)
};

// The table, in a fixed order. Energy tariffs 1..4 are named sharp, peak, flat and valley
// (尖峰平谷), the usual assignment in China; the standard itself only numbers them.
std::span<const Identifier> identifiers();
const Identifier* find_identifier(std::string_view name);
const Identifier* find_identifier(std::uint32_t di);

// Bits of status word 3 (电表运行状态字3, DI 0x04000503).
inline constexpr std::uint16_t k_status3_relay_off = 1u << 4;         // 继电器状态: 0 closed, 1 open
inline constexpr std::uint16_t k_status3_relay_command_off = 1u << 6; // 继电器命令状态: 0 close, 1 trip
inline constexpr std::uint16_t k_status3_pre_trip_alarm = 1u << 7;    // 预跳闸报警状态

// One decoded value.
struct Value {
  std::string_view name;
  // The number as the meter wrote it, sign applied, decimal point ignored: 56341200 for
  // 563412.00 kWh. For status words, the word.
  std::int64_t raw = 0;
  // In the canonical unit: what V, A, W, power factor and Hz are stored as.
  double real = 0;
  // In the canonical unit, exactly, when that is whole (exponent ≥ 0): energy in Wh, money in
  // minor units, counts, status words. nullopt otherwise.
  std::optional<std::int64_t> integer;
};

// The value in the bytes after the DI of a read reply. Errors are Exit::data: a wrong number of
// bytes, a byte that is not BCD ("voltage_a: byte 0x2F is not BCD").
Result<Value> decode_value(const Identifier& id, std::span<const std::uint8_t> bytes);
// The inverse, for the simulator and round trips: the bytes that carry `raw`. Errors are
// Exit::data for a number that does not fit.
Result<std::vector<std::uint8_t>> encode_value(const Identifier& id, std::int64_t raw);
// "563412.00", "-1.234": raw with the identifier's decimals.
std::string format_raw(const Identifier& id, std::int64_t raw);

// The number in `bytes` (two BCD digits each, lowest byte first; at most 9 bytes). With
// is_signed, the top bit of the last byte is the sign. Errors are Exit::data and name the first
// byte that is not BCD.
Result<std::int64_t> decode_bcd(std::span<const std::uint8_t> bytes, bool is_signed = false);
// `value` in `size` bytes; Error(Exit::data) when it needs more digits than there are, or is
// negative without is_signed.
Result<std::vector<std::uint8_t>> encode_bcd(std::int64_t value, std::size_t size, bool is_signed = false);

} // namespace kwh::dlt645
