#pragma once
// A benchmark site: `meters` electricity meters with band registers (acrel-dtsy1352), one
// account each on a time-of-use tariff (peak 08:00-12:00, valley 23:00-07:00, site time
// Asia/Shanghai), alarms, and an opening sale large enough not to run out; plus the readings a
// day of such a site produces, for the ingest and year benchmarks.

#include <kwh/billing/account.hpp>
#include <kwh/billing/payment.hpp>
#include <kwh/billing/tariff.hpp>
#include <kwh/config/config.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/util/time.hpp>

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace kwh::bench {

inline constexpr const char* k_zone = "Asia/Shanghai";

inline const char* tou_tariff(UnixTime effective) {
  static std::string body;
  body = fmt::format("effective = \"{}\"\n[bands]\npeak = \"1.2000\"\nflat = \"0.8000\"\nvalley = \"0.3500\"\n"
                     "[[windows]]\nband = \"peak\"\nfrom = \"08:00\"\nto = \"12:00\"\n"
                     "[[windows]]\nband = \"valley\"\nfrom = \"23:00\"\nto = \"07:00\"\n",
                     format_date(effective));
  return body.c_str();
}

inline void make_site(storage::Database& db, const config::Config& cfg, int meters, UnixTime opened,
                      std::int64_t opening_sale) {
  storage::migrate(db);
  storage::Transaction tx(db);
  auto g = db.prepare("INSERT INTO gateways (id, name, transport, address, created) VALUES (?, ?, 'tcp', ?, 0)");
  for (int i = 1; i <= (meters + 199) / 200; ++i) {
    g.reset();
    g.bind_all(i, fmt::format("gw{}", i), fmt::format("127.0.0.1:{}", 15019 + i));
    g.run();
  }
  auto m = db.prepare("INSERT INTO meters (id, name, gateway_id, unit, profile, kind, building, created) "
                      "VALUES (?, ?, ?, ?, 'acrel-dtsy1352', 'electricity', ?, 0)");
  for (int i = 1; i <= meters; ++i) {
    m.reset();
    m.bind_all(i, fmt::format("M{:05}", i), (i - 1) / 200 + 1, (i - 1) % 200 + 1, fmt::format("B{:02}", i % 20));
    m.run();
  }
  const std::string body = tou_tariff(opened);
  billing::add_tariff_version(db, "tou", billing::parse_tariff(body, "tou", opened, cfg.minor_units), body, opened,
                              cfg.minor_units);
  for (int i = 1; i <= meters; ++i) {
    billing::OpenAccount a;
    a.id = fmt::format("A{:05}", i);
    a.holder = a.id;
    a.tariff = "tou";
    a.meters = {fmt::format("M{:05}", i)};
    a.alarm1 = Money::from_minor(20'000);
    a.alarm2 = Money::from_minor(5'000);
    a.opened = opened;
    billing::open_account(db, a);
    billing::PaymentRequest r;
    r.account = a.id;
    r.amount = Money::from_minor(opening_sale);
    r.method = "cash";
    r.operator_name = "bench";
    r.time = opened;
    billing::post_payment_in(db, cfg, r);
  }
  tx.commit();
}

// A meter's counters as the site runs: the load of meter i at time t (a base by meter, twice
// that from 08:00 to 22:00 site time, half at night), the band of the hour taking the energy.
struct Meter {
  std::int64_t energy = 0;
  std::array<std::int64_t, 4> bands{}; // sharp, peak, flat, valley
  std::int64_t carry_mwh = 0;          // energy below a Wh, carried
};

inline std::int64_t base_watts(int i) { return 300 + (i * 37) % 2400; }

inline int band_of(UnixTime t) {
  const int hour = static_cast<int>(((t + 8 * 3600) % 86400) / 3600);
  if (hour >= 8 && hour < 12) return 1;
  if (hour >= 23 || hour < 7) return 3;
  return 2;
}

// Advances meter i by `seconds` ending at t; returns the power it drew (W).
inline std::int64_t advance(Meter& m, int i, UnixTime t, std::int64_t seconds) {
  const int hour = static_cast<int>(((t + 8 * 3600) % 86400) / 3600);
  const std::int64_t w = hour >= 8 && hour < 22 ? base_watts(i) * 2 : base_watts(i) / 2;
  const std::int64_t w_jitter = w + (t / 60 + i) % 97 - 48;
  const std::int64_t mwh = w_jitter * seconds * 1000 / 3600 + m.carry_mwh;
  const std::int64_t wh = mwh / 1000;
  m.carry_mwh = mwh % 1000;
  m.energy += wh;
  m.bands[static_cast<std::size_t>(band_of(t))] += wh;
  return w_jitter;
}

} // namespace kwh::bench
