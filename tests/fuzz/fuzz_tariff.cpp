// Fuzzes the tariff file parser and what a parsed tariff is asked during billing: the band at a
// time, the seconds per band of an interval, and the priced pieces of a charge. Bad input must
// only ever be a kwh::Error.

#include <kwh/billing/charge.hpp>
#include <kwh/billing/tariff.hpp>
#include <kwh/util/time.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static bool zone = [] {
    kwh::set_site_timezone("UTC");
    return true;
  }();
  (void)zone;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto v = kwh::billing::parse_tariff(text, "fuzz.toml", 0);
    // An accepted window starts within the day and ends by its end (24:00), and is not empty.
    for (const auto& w : v.windows)
      if (w.from_minute < 0 || w.from_minute >= 1440 || w.to_minute < 0 || w.to_minute > 1440 ||
          w.from_minute == w.to_minute)
        __builtin_trap();
    const kwh::UnixTime t0 = 1'764'000'000; // 2025-11-24
    (void)v.band_at(t0);
    auto secs = v.band_seconds(t0, t0 + 3 * 86'400);
    std::int64_t total = 0;
    for (const auto& [band, s] : secs) total += s;
    if (total != 3 * 86'400) __builtin_trap();
    auto pieces = kwh::billing::price_pieces(v, 123'456, t0, t0 + 86'400, {}, 50'000);
    std::int64_t q = 0;
    std::int64_t carry = 0;
    for (const auto& p : pieces) {
      q += p.quantity;
      carry = kwh::billing::round_charge(p.price, p.quantity, 2, carry).carry;
    }
    if (q != 123'456) __builtin_trap();
  } catch (const kwh::Error&) {
  }
  return 0;
}
