// report energy: consumption and its cost from the daily rollups (daily_usage), never from raw
// readings. Electricity and water are separate columns (energy_kwh, volume_m3) of the same row,
// so that an account or building with both shows both; a column is empty for a group that has
// no meter of that kind.

#include <kwh/report/report.hpp>

#include <map>

namespace kwh::report {

using output::Column;
using output::Json;
using output::Kind;
using output::Table;

std::vector<Json> usage_cells(Json key, const Usage& u, int mu) {
  return {std::move(key), u.electricity ? Json(thousandths(u.wh)) : Json(),
          u.water ? Json(thousandths(u.litres)) : Json(), money_text(u.cost, mu)};
}

Table energy(storage::Database& db, const Request& r) {
  const int mu = r.options.minor_units;
  const By by = *r.options.by;
  const bool by_period = by == By::day || by == By::month || by == By::year;
  Table t;
  t.columns = {Column{by_period ? "period" : std::string(by_text(by)), by == By::day ? Kind::date : Kind::text},
               Column{"energy_kwh", Kind::real}, Column{"volume_m3", Kind::real}, Column{"cost", Kind::money}};

  // One grouped scan of the rollups in the period (the primary key starts with day, so grouping
  // by day needs no sort), electricity and water summed side by side. A NULL key (no account,
  // no building) is kept apart and shown empty. Accounts are joined only when grouped by them.
  std::string key_sql = by == By::meter     ? "m.name"
                        : by == By::account ? "a.name"
                        : by == By::building ? "m.building"
                                              : "d.day";
  std::string sql = "SELECT " + key_sql +
                    ", SUM(CASE WHEN m.kind = 'water' THEN 0 ELSE d.quantity END), "
                    "SUM(CASE WHEN m.kind = 'water' THEN d.quantity ELSE 0 END), SUM(d.cost), "
                    "MAX(m.kind <> 'water'), MAX(m.kind = 'water') "
                    "FROM daily_usage d JOIN meters m ON m.id = d.meter_id " +
                    std::string(by == By::account ? "LEFT JOIN accounts a ON a.id = d.account_id " : "") +
                    "WHERE d.day >= ?1 AND d.day < ?2 AND (?3 IS NULL OR d.account_id = ?3) GROUP BY 1";
  auto st = db.prepare(sql);
  st.bind(1, r.period.from).bind(2, r.period.to);
  if (r.options.account) st.bind(3, account_id(db, *r.options.account));
  else st.bind_null(3);
  auto usage = [&] {
    return Usage{st.get_int(1), st.get_int(2), st.get_int(3), st.get_int(4) != 0, st.get_int(5) != 0};
  };

  Usage total;
  if (by_period) {
    Buckets buckets(r.period, by == By::day ? Step::day : by == By::month ? Step::month : Step::year);
    std::vector<Usage> sums(buckets.size());
    while (st.step()) {
      auto i = buckets.index(st.get_int(0));
      if (!i) continue;
      sums[*i].add(usage());
    }
    for (std::size_t i = 0; i < sums.size(); ++i) {
      t.add(usage_cells(buckets.label(i), sums[i], mu));
      total.add(sums[i]);
    }
  } else {
    std::map<std::optional<std::string>, Usage> sums;
    while (st.step()) {
      sums[st.get_opt_text(0)].add(usage());
    }
    for (const auto& [key, u] : sums) {
      t.add(usage_cells(key ? Json(*key) : Json(), u, mu));
      total.add(u);
    }
  }
  t.totals = usage_cells("total", total, mu);
  return t;
}

} // namespace kwh::report
