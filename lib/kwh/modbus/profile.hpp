#pragma once
// Profiles: a meter model's register map (kwh-profile(5)). A profile says where each value
// lives (table, zero-based address), how its registers are read (type, word order) and how the
// raw number becomes the canonical unit (scale), how the relay is switched, and which settings
// can be written. Built-in profiles are TOML files (examples/profiles/) embedded at build time
// and loaded by the same parser as users' files.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kwh::modbus {

// The four Modbus data tables. coil and discrete hold bits; holding and input hold 16-bit words.
enum class Table { coil, discrete, holding, input };
enum class ValueType { u16, i16, u32, i32, u64, i64, f32, f64 };
// For 32/64-bit values: big = high word first (Modbus convention), little = low word first.
// Bytes within a word are always big-endian, as Modbus sends them.
enum class WordOrder { big, little };

std::string_view to_string(Table table);
std::string_view to_string(ValueType type);
std::string_view to_string(WordOrder order);
std::optional<Table> parse_table(std::string_view text);
std::optional<ValueType> parse_value_type(std::string_view text);

// Registers (or bits, for coil/discrete) one value of this type occupies: 1, 2 or 4.
int words(ValueType type);
bool is_bit_table(Table table);

// One value (or setting) of a profile. For coil/discrete tables the type is u16 and the value
// is the bit, 0 or 1.
struct ValueSpec {
  std::string name;
  Table table = Table::holding;
  std::uint16_t address = 0;
  ValueType type = ValueType::u16;
  // canonical value = raw × scale (e.g. 10 turns 0.01 kWh into Wh). Never zero.
  double scale = 1;
  // Write with function 6 (single register) instead of 16; coils are always written with 5.
  bool single_write = false;
  // A DL/T 645 profile's value: its data identifier (table, address, type and scale unused).
  std::uint32_t di = 0;

  int words() const { return modbus::words(type); }
  // One past the last register (or bit) this value occupies.
  std::uint32_t end() const { return std::uint32_t(address) + std::uint32_t(words()); }
};

// How a meter's relay is switched: the words written to close it (on: power flows) and to
// open it (off). For a coil, on/off hold one element, 0 or 1. For holding registers they hold
// the register words written from `address` on (function 16, or 6 when single_write and one word).
//
// Where the meter reports the relay's actual state ([relay.status]): one register, coil or
// discrete input whose value (or one bit of it) reads `on` while power flows and `off` while the
// relay is open. Read with every poll as the value named "relay_status" (the raw word), so that
// the planner carries it in the same request as the readings where the map allows.
struct RelayStatus {
  Table table = Table::holding;
  std::uint16_t address = 0;
  std::optional<int> bit; // registers only: the bit of the word that carries the state, 0..15
  std::uint16_t on = 0;
  std::uint16_t off = 1;

  // The state a raw value means: true on (closed), false off (open), nullopt neither.
  std::optional<bool> closed(std::uint16_t raw) const;
  // The raw value the meter shows in a state (the other bits 0), for the simulator.
  std::uint16_t raw(bool closed) const;
};

inline constexpr std::string_view k_relay_status_value = "relay_status";
// The most unit addresses one meter may occupy (a profile's `units`).
inline constexpr int k_max_units = 3;

// A DL/T 645 profile's [relay]: relay control (function 0x1C) trips with N1 = 0x1A and closes
// with 0x1C (close = "direct", the default) or 0x1B (close = "allowed": the tenant closes it at
// the meter); the state is bit 4 of status word 3 (DI 0x04000503), 1 while open.
struct RelaySpec {
  Table table = Table::holding; // coil | holding
  std::uint16_t address = 0;
  std::vector<std::uint16_t> on;
  std::vector<std::uint16_t> off;
  bool single_write = false;
  std::optional<RelayStatus> status;
  bool close_allowed = false; // DL/T 645: close with N1 = 0x1B instead of 0x1C
};

// Where a meter keeps its clock ([clock]), for time sync (`kwh meter sync-time`, [poll]
// sync_time). Modbus: holding registers from `address`, read and written whole, as
//   ymdhms  six registers: year (2026), month, day, hour, minute, second; site-local time
//   bcd     three registers of two BCD digits a byte: YYMM, DDhh, mmss; site-local time
//   unix    two registers in the profile's word order: seconds since 1970 UTC
// DL/T 645: the standard's date (DI 04000101) and time (04000102) are read, and the clock is set
// by broadcast time (0x08), which meters take once a day and within 5 minutes of their own time.
enum class ClockFormat { ymdhms, bcd, unix_seconds };
std::string_view to_string(ClockFormat format);

struct ClockSpec {
  std::uint16_t address = 0;
  ClockFormat format = ClockFormat::ymdhms;
  int words() const; // registers the clock occupies: 6, 3 or 2
};

// Where a meter keeps a tariff (`kwh tariff issue`), as Acrel's prepaid meters do: holding
// registers written with function 16 and read back.
//   [tariff.prices]  the price of each band, in the order of `bands`, each a u16 or u32 holding
//                    price × 10^decimals (money per kWh or m³)
//   [tariff.plan]    a day's time-of-use plan: `slots` switching points of three registers each,
//                    the band's number (1-based, in the order of `bands`), the minute and the
//                    hour, in the order `layout` says; unused slots repeat the last point
struct TariffSpec {
  std::vector<std::string> bands{"sharp", "peak", "flat", "valley"};
  struct Prices {
    std::uint16_t address = 0;
    ValueType type = ValueType::u32; // u16 | u32
    int decimals = 4;                // 0..8
  };
  struct Plan {
    std::uint16_t address = 0;
    int slots = 14;
    std::array<std::string, 3> layout{"band", "minute", "hour"};
  };
  std::optional<Prices> prices;
  std::optional<Plan> plan;
};

// Where a meter that keeps its own balance takes a purchase ([purchase]): holding registers
// from `address`, the amount (u16 or u32, money × 10^decimals) and then one register with the
// purchase's number. The meter takes a purchase only when its number is one more than the last
// one it took, so that a purchase written twice (a retry after a lost reply) is taken once.
struct PurchaseSpec {
  std::uint16_t address = 0;
  ValueType type = ValueType::u32; // u16 | u32
  int decimals = 2;                // 0..8
  int words() const { return modbus::words(type) + 1; }
};

struct Profile {
  std::string name;
  std::string kind; // "electricity" | "water"
  // "modbus" (the default), or "dlt645": values then name DL/T 645 data identifiers (di).
  std::string protocol = "modbus";
  // Where it came from: the file path, or "builtin:<name>". Error messages name it.
  std::string source;
  // The TOML text it was parsed from (stored in the database with the meter, shown by the CLI).
  std::string text;
  WordOrder word_order = WordOrder::big;
  // The most registers (or bits) one read may skip between the values it carries; -1: no limit,
  // the planner decides by wire time. 0 for meters that reject reads of unmapped registers.
  int max_gap = -1;
  // Unit addresses one meter of this model occupies from its own: 1 for a meter; 3 for a
  // three-phase circuit of a multi-user meter (an ADF400L), which answers on its unit U and
  // holds U+1 and U+2 too, so that no other meter may take them. Modbus profiles only.
  int units = 1;
  // In the order of the file; with [relay.status], a last value "relay_status" (u16) reads it.
  std::vector<ValueSpec> values;
  std::optional<RelaySpec> relay;
  std::vector<ValueSpec> settings; // writable; table holding or coil
  std::optional<ClockSpec> clock;  // [clock]: the meter keeps a clock kwh can read and set
  std::optional<TariffSpec> tariff; // [tariff]: the meter keeps prices and a time-of-use plan
  std::optional<PurchaseSpec> purchase; // [purchase]: sales are written to the meter

  const ValueSpec* find(std::string_view value_name) const;
  const ValueSpec* find_setting(std::string_view setting_name) const;
  // The value that carries the meter's cumulative total: energy_total or volume_total.
  const ValueSpec* total() const;
  // The relay state in a poll's values (the "relay_status" value), when the profile reads it.
  std::optional<bool> relay_closed(double relay_status_value) const;
};

// Parses and checks a profile. Throws Error(Exit::config) with one line naming the source, the
// line where known, and the key: "profile foo.toml:7: values.energy_total.type: unknown type 'u33'".
Profile parse_profile(std::string_view toml_text, const std::string& source);

// Reads and parses a file. A missing file is Error(Exit::no_input); a bad one Exit::config.
Profile load_profile_file(const std::string& path);

// The names of the built-in profiles, sorted.
std::vector<std::string> builtin_profile_names();
// A built-in profile by name, or nullopt.
std::optional<Profile> builtin_profile(std::string_view name);
// The TOML text of a built-in profile, or nullopt (for `kwh profile show` and the simulator).
std::optional<std::string_view> builtin_profile_text(std::string_view name);

// Finds a profile the way --profile does: a path (contains '/' or ends in ".toml") is loaded as
// a file; otherwise the built-ins first, then <folder>/<name>.toml in each configured folder
// (config `profiles`), in order. Not found: Error(Exit::no_input) naming it.
Profile find_profile(std::string_view name_or_path, const std::vector<std::string>& folders);

// Canonical units of the well-known value names (kwh-profile(5)): "Wh", "L", "W", "V", "A", "Hz", ""
// (power factor), "minor" (meter_balance); nullopt for names that are not well known.
std::optional<std::string_view> well_known_unit(std::string_view value_name);
// Whether a value is an integer quantity (energy in Wh, volume in L, money in minor units):
// its canonical value is stored as an exact integer.
bool is_integer_quantity(std::string_view value_name);

} // namespace kwh::modbus
