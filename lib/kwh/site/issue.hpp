#pragma once
// Issuing to meters what they keep themselves (`kwh tariff issue`, `kwh meter set --alarm1`,
// `--alarm2`, `--overload-w`): the register writes that put a tariff version or a setting into a
// meter. They reach kwhd as 'set' commands whose argument is the write itself
// ("prices@0x0100=0x0000,0x3039,...", see write_argument), so that kwhd writes words and reads
// them back without knowing tariffs; `kwh log` and the command's row show what was written.

#include <kwh/billing/tariff.hpp>
#include <kwh/modbus/profile.hpp>
#include <kwh/util/error.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kwh::site {

struct RegisterWrite {
  std::string what; // "prices", "plan", or a setting's name
  std::uint16_t address = 0;
  std::vector<std::uint16_t> words;
  friend bool operator==(const RegisterWrite&, const RegisterWrite&) = default;
};

// One switching point of a day's plan: from `minute` of the day on, `band`.
struct SwitchPoint {
  int minute = 0;
  std::string band;
  friend bool operator==(const SwitchPoint&, const SwitchPoint&) = default;
};

// The day plan of a version: the first point at 00:00, then each change of band. Error(data)
// for windows that differ by weekday (a meter's day plan is the same every day).
Result<std::vector<SwitchPoint>> day_plan(const billing::TariffVersion& v);

// The writes that put version `v` into a meter laid out as `spec`. Error(data), naming the
// reason, when the meter cannot hold it: monthly tiers, a band with a price that `spec.bands`
// lacks, windows that differ by weekday, more switching points than slots, a price not exact in
// the register's decimals or too large for it.
Result<std::vector<RegisterWrite>> tariff_writes(const modbus::TariffSpec& spec, const billing::TariffVersion& v);

// "prices@0x0100=0x0000,0x3039" and back (nullopt for text that is not one).
std::string write_argument(const RegisterWrite& w);
std::optional<RegisterWrite> parse_write_argument(std::string_view text);

} // namespace kwh::site
