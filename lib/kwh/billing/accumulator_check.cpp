#include <kwh/billing/accumulator_check.hpp>

#include <kwh/billing/interval.hpp>
#include <kwh/readings/store.hpp>
#include <kwh/storage/database.hpp>

#include <fmt/format.h>

#include <map>

namespace kwh::billing {

namespace {

std::vector<Span> spans_of(storage::Database& db, std::int64_t meter_id) {
  std::vector<Span> out;
  auto st = db.prepare("SELECT s.account_id, a.tariff_id, s.valid_from, s.valid_to, a.status FROM assignments s "
                       "JOIN accounts a ON a.id = s.account_id WHERE s.meter_id = ?1 ORDER BY s.valid_from");
  st.bind(1, meter_id);
  while (st.step())
    out.push_back({st.get_text(4) == "closed" ? 0 : st.get_int(0), st.get_int(1), st.get_int(2), st.get_opt_int(3)});
  return out;
}

struct Stored {
  Counters c;
  int flags = 0;
};

// What the readings of the meter in (from, to], within the day, charge to the account.
std::int64_t replay(storage::Database& db, std::int64_t meter_id, std::int64_t account_id, UnixTime day,
                    UnixTime from, UnixTime to, const std::vector<Span>& spans,
                    std::map<std::int64_t, TariffHistory>& tariffs, int minor_units) {
  std::vector<Stored> stored;
  auto add = [&](const readings::Reading& r) {
    stored.push_back({{r.t, r.value, r.sharp, r.peak, r.flat, r.valley}, r.flags});
    return true;
  };
  // The reading each interval starts from, then the rest up to the last charged.
  if (auto first = readings::at_or_before(db, meter_id, from)) add(*first);
  readings::scan(db, meter_id, from + 1, to + 1, add);
  const UnixTime next_day = add_local_days(day, 1);
  std::int64_t expected = 0;
  std::vector<Priced> priced;
  for (std::size_t i = 1; i < stored.size(); ++i) {
    const Stored& prev = stored[i - 1];
    const Stored& now = stored[i];
    if (now.c.t <= from || now.c.t < day || now.c.t >= next_day) continue;
    if ((now.flags & 2) || now.c.value < prev.c.value) continue; // a new baseline: nothing charged
    std::vector<Share> shares;
    share_interval(prev.c, now.c, spans, shares);
    for (const Share& s : shares) {
      if (s.account_id != account_id) continue;
      auto it = tariffs.find(s.tariff_id);
      if (it == tariffs.end())
        it = tariffs.emplace(s.tariff_id, TariffHistory(tariff_versions(db, s.tariff_id, minor_units))).first;
      std::int64_t used = 0;
      priced.clear();
      price_share(it->second, s.from, s.to, s.quantity, s.bands(), used, priced);
      for (const auto& p : priced) expected += p.piece.quantity;
    }
  }
  return expected;
}

} // namespace

std::vector<std::string> verify_accumulators(storage::Database& db, const config::Config& config) {
  std::vector<std::string> findings;
  struct Group {
    std::int64_t account_id, meter_id;
    UnixTime day, from, to;
    std::int64_t quantity;
  };
  std::vector<Group> groups;
  {
    auto st = db.prepare("SELECT account_id, meter_id, day, min(t0), max(t1), sum(quantity) FROM accumulators "
                         "GROUP BY account_id, meter_id, day ORDER BY account_id, meter_id, day");
    while (st.step())
      groups.push_back({st.get_int(0), st.get_int(1), st.get_int(2), st.get_int(3), st.get_int(4), st.get_int(5)});
  }
  std::map<std::int64_t, TariffHistory> tariffs;
  for (auto g : groups) {
    // Charges of the same day posted already (a day closed early, a new tariff version).
    auto posted = db.prepare("SELECT min(t0), max(t1), coalesce(sum(quantity), 0) FROM ledger WHERE account_id = ?1 "
                             "AND meter_id = ?2 AND kind = 'charge' AND time >= ?3 AND time < ?4");
    posted.bind_all(g.account_id, g.meter_id, g.day, add_local_days(g.day, 1));
    posted.step();
    if (auto t0 = posted.get_opt_int(0)) g.from = std::min(g.from, *t0);
    if (auto t1 = posted.get_opt_int(1)) g.to = std::max(g.to, *t1);
    const std::int64_t claimed = g.quantity + posted.get_int(2);
    const std::int64_t expected = replay(db, g.meter_id, g.account_id, g.day, g.from, g.to, spans_of(db, g.meter_id),
                                         tariffs, config.minor_units);
    if (claimed != expected) {
      auto names = db.prepare("SELECT (SELECT name FROM accounts WHERE id = ?1), (SELECT name FROM meters WHERE id = ?2), "
                              "(SELECT kind FROM meters WHERE id = ?2)");
      names.bind_all(g.account_id, g.meter_id);
      names.step();
      const char* unit = names.get_opt_text(2).value_or("") == "water" ? "L" : "Wh";
      findings.push_back(fmt::format("accumulators: account {}, meter {}, {}: charged for {} {} but its readings give "
                                     "{} {} (an accumulator was edited behind kwh's back, or a reading was)",
                                     names.get_opt_text(0).value_or("?"), names.get_opt_text(1).value_or("?"),
                                     format_date(g.day), claimed, unit, expected, unit));
    }
  }
  return findings;
}

} // namespace kwh::billing
