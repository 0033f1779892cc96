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

namespace kwh::storage {
class Database;
}

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

// The write of a purchase of `amount` (money with `minor_units` decimals) numbered `number` for a
// meter laid out as `spec`: the amount in the meter's decimals, then the number. Error(data) for
// an amount not exact in those decimals or too large for the register, or a number over 65535.
Result<RegisterWrite> purchase_write(const modbus::PurchaseSpec& spec, std::int64_t amount_minor, int minor_units,
                                     std::int64_t number);

// The number of the next purchase written to meter `meter_id`, in the caller's transaction: one
// more than the last one kwh wrote, or than the count the meter last reported (`reported`, its
// purchase_count value), whichever is higher.
std::int64_t next_purchase_number(storage::Database& db, std::int64_t meter_id, std::optional<std::int64_t> reported);

// "prices@0x0100=0x0000,0x3039" and back (nullopt for text that is not one).
std::string write_argument(const RegisterWrite& w);
std::optional<RegisterWrite> parse_write_argument(std::string_view text);

} // namespace kwh::site
