#pragma once
// Tariffs: what a kWh (or m³) costs at a given time. A tariff is a list of versions by
// effective date; each version is flat, time-of-use (bands with site-local windows) or monthly
// tiers, and may add a standing charge. The tariff file format is kwh-tariff(5).
//
// Prices are kwh::Price (1/10 000 per kWh or m³); quantities are integer Wh or litres.

#include <kwh/util/money.hpp>
#include <kwh/util/time.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kwh::storage {
class Database;
}

namespace kwh::billing {

enum class TariffKind { flat, tou, tiers };
enum class StandingPeriod { none, day, month };

// The band names of kwh-tariff(5), in the order registers and reports list them.
inline constexpr std::array<const char*, 4> k_bands = {"sharp", "peak", "flat", "valley"};

// A site-local daily window of a band. from > to crosses midnight; the weekday that counts is
// the one on which the window starts (so a "fri 23:00-07:00" window covers Saturday 03:00).
struct Window {
  std::string band;
  int from_minute = 0;
  int to_minute = 0;
  unsigned days = 0x7f; // bit d set: the window starts on weekday d (0 = Sunday)
  bool contains(int weekday, int minute_of_day) const;
};

struct Tier {
  std::optional<std::int64_t> upto; // Wh or litres consumed in the month; none for the last tier
  Price price;
};

struct TariffVersion {
  UnixTime effective = 0;
  std::string unit = "kWh"; // kWh | m3
  TariffKind kind = TariffKind::flat;
  Price flat_price;                   // kind flat
  std::map<std::string, Price> bands; // kind tou: band -> price; always has "flat"
  std::vector<Window> windows;        // kind tou
  std::vector<Tier> tiers;            // kind tiers, ascending
  Money standing_charge;
  StandingPeriod standing_period = StandingPeriod::none;

  // The band a site-local instant falls in ("flat" when in no window). Flat tariffs: "flat".
  std::string band_at(UnixTime t) const;
  // The price of a band; throws Error(data) for a band the version has no price for.
  Price band_price(const std::string& band) const;
  // Splits (t0, t1] into seconds per band, in site time. Only bands with time are returned.
  std::map<std::string, std::int64_t> band_seconds(UnixTime t0, UnixTime t1) const;
};

const char* kind_name(TariffKind k);
// "08:00" for minute 480.
std::string format_minutes(int minute_of_day);

// Parses a tariff file (kwh-tariff(5)). Errors are Exit::data naming source:line and
// the key. Without `effective` the version starts at default_effective.
TariffVersion parse_tariff(std::string_view toml_text, const std::string& source, UnixTime default_effective,
                           int minor_units = Money::k_default_minor_units);

// The canonical TOML body stored for `tariff add NAME --flat PRICE`.
std::string flat_tariff_body(Price price, UnixTime effective, const std::string& unit);

// A stored version with its row data.
struct StoredVersion {
  std::int64_t id = 0;
  std::int64_t tariff_id = 0;
  std::string body;
  TariffVersion version;
};

struct TariffInfo {
  std::int64_t id = 0;
  std::string name;
  UnixTime created = 0;
};

// Adds a tariff (or a new version of an existing one) in the caller's transaction. A version
// with the same effective time as an existing one is Exit::data. Returns the tariff id.
std::int64_t add_tariff_version(storage::Database& db, const std::string& name, const TariffVersion& v,
                                const std::string& body, UnixTime created, int minor_units);

// Throws Error(no_input) for an unknown tariff.
TariffInfo find_tariff(storage::Database& db, const std::string& name);
std::vector<TariffInfo> list_tariffs(storage::Database& db);
// All versions, oldest first.
std::vector<StoredVersion> tariff_versions(storage::Database& db, std::int64_t tariff_id, int minor_units);

// The versions of one tariff, loaded once, answering "which version was in force at t".
class TariffHistory {
public:
  TariffHistory() = default;
  explicit TariffHistory(std::vector<StoredVersion> versions) : m_versions(std::move(versions)) {}
  // The version in force at t (the latest with effective <= t); nullptr before the first one.
  const TariffVersion* at(UnixTime t) const;
  // The same with its id; before the first version, the first one (nullptr when none).
  const StoredVersion* in_force(UnixTime t) const;
  const std::vector<StoredVersion>& versions() const { return m_versions; }

private:
  std::vector<StoredVersion> m_versions;
};

} // namespace kwh::billing
