#include <kwh/hub/report.hpp>

#include <fmt/format.h>

#include <map>
#include <tuple>

namespace kwh::hub {

using output::Column;
using output::Json;
using output::Kind;
using output::Table;
using report::By;

namespace {

bool by_period(By by) { return by == By::day || by == By::month || by == By::year; }

report::Step step_of(By by) {
  return by == By::day ? report::Step::day : by == By::month ? report::Step::month : report::Step::year;
}

// The buckets' starts as a PostgreSQL array literal, for width_bucket().
std::string starts_array(const report::Buckets& b) {
  std::string s = "{";
  for (std::size_t i = 0; i < b.size(); ++i) s += (i ? "," : "") + std::to_string(b.start(i));
  return s + "}";
}

std::vector<Json> row_of(Json site, std::vector<Json> rest) {
  rest.insert(rest.begin(), std::move(site));
  return rest;
}

// The sites a report covers, in SQL, with the site (or NULL: --all) as parameter `n`: --all is
// every site but those whose rows a new epoch moved aside (kwh hub reset-epoch), which the new
// epoch pushes again; --site names any.
std::string sites_of(int n) {
  return fmt::format("(SELECT site_id FROM sites WHERE CASE WHEN ${0}::text IS NULL THEN replaced_by IS NULL "
                     "ELSE site_id = ${0} END)",
                     n);
}

std::vector<std::string> site_ids(PgConnection& conn, const std::optional<std::string>& site) {
  auto r = conn.exec("SELECT site_id FROM " + sites_of(1) + " s ORDER BY site_id", {site});
  if (site && r.rows() == 0) fail(Exit::no_input, "the hub knows no site {}", *site);
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
  return out;
}

// A report grouped by a key per site: by a period (every bucket shown, empty ones too, as at
// the site) or by a name (the groups that have rows, in the site's byte order).
template <class Sums, class Cells>
void grouped(Table& t, PgConnection& conn, const ReportRequest& r, const std::string& sql, const std::string& key_sql,
             const std::function<Sums(const PgResult&, int)>& read, Cells cells, Sums& total) {
  const auto& req = r.request;
  const By by = *req.options.by;
  std::optional<report::Buckets> buckets;
  std::string key = key_sql;
  PgParams params{std::to_string(req.period.from), std::to_string(req.period.to), r.site};
  if (by_period(by)) {
    buckets.emplace(req.period, step_of(by));
    params.push_back(starts_array(*buckets));
  }
  auto res = conn.exec(fmt::format(fmt::runtime(sql), key), params);
  std::map<std::string, std::map<std::optional<std::string>, Sums>> by_site;
  for (const auto& site : site_ids(conn, r.site)) by_site[site];
  for (int i = 0; i < res.rows(); ++i) by_site[res.text(i, 0)][res.opt_text(i, 1)].add(read(res, i));
  for (auto& [site, sums] : by_site) {
    if (buckets) {
      std::vector<Sums> per(buckets->size());
      for (const auto& [k, s] : sums) {
        const auto n = std::stol(k.value_or("0")); // width_bucket: 1.. within, 0 before
        if (n >= 1 && static_cast<std::size_t>(n) <= per.size()) per[static_cast<std::size_t>(n) - 1].add(s);
      }
      for (std::size_t i = 0; i < per.size(); ++i) {
        t.add(row_of(site, cells(Json(buckets->label(i)), per[i])));
        total.add(per[i]);
      }
    } else {
      for (const auto& [k, s] : sums) {
        t.add(row_of(site, cells(k ? Json(*k) : Json(), s)));
        total.add(s);
      }
    }
  }
}

Table sales(PgConnection& conn, const ReportRequest& r) {
  const int mu = r.request.options.minor_units;
  const By by = *r.request.options.by;
  Table t;
  t.columns = {Column{"site"},
               Column{by_period(by) ? "period" : std::string(report::by_text(by)), by == By::day ? Kind::date : Kind::text},
               Column{"sales", Kind::money}, Column{"refunds", Kind::money}, Column{"net", Kind::money},
               Column{"count", Kind::integer}};
  const std::string key = by_period(by)        ? "width_bucket(l.time, $4::bigint[])::text"
                          : by == By::operator_ ? "coalesce(l.operator, '')"
                                                : "coalesce(a.name, l.account, l.account_id::text)";
  // $4 is unused when grouped by a name; the cast keeps its type known.
  const std::string sql =
      "SELECT l.site_id, {}, coalesce(sum(l.amount) FILTER (WHERE l.kind = 'sale'), 0), "
      "coalesce(-sum(l.amount) FILTER (WHERE l.kind = 'refund'), 0), count(*) "
      "FROM ledger l LEFT JOIN accounts a ON a.site_id = l.site_id AND a.id = l.account_id "
      "WHERE l.kind IN ('sale', 'refund') AND l.time >= $1::bigint AND l.time < $2::bigint "
      "AND l.site_id IN " + sites_of(3) + " GROUP BY 1, 2";
  auto cells = [mu](Json group, const report::Takings& s) {
    return row_of(std::move(group), report::takings_cells(s, mu));
  };
  report::Takings total;
  grouped<report::Takings>(
      t, conn, r, sql, key,
      [](const PgResult& res, int i) {
        return report::Takings{res.integer(i, 2), res.integer(i, 3), res.integer(i, 4)};
      },
      cells, total);
  t.totals = row_of("total", cells("", total));
  return t;
}

Table energy(PgConnection& conn, const ReportRequest& r) {
  const int mu = r.request.options.minor_units;
  const By by = *r.request.options.by;
  if (by == By::building) fail(Exit::usage, "kwh hub report energy cannot be grouped --by building: the hub has no meters' buildings");
  Table t;
  t.columns = {Column{"site"},
               Column{by_period(by) ? "period" : std::string(report::by_text(by)), by == By::day ? Kind::date : Kind::text},
               Column{"energy_kwh", Kind::real}, Column{"volume_m3", Kind::real}, Column{"cost", Kind::money}};
  const std::string key = by_period(by)     ? "width_bucket(d.day, $4::bigint[])::text"
                          : by == By::meter ? "coalesce(d.meter, d.meter_id::text)"
                                            : "a.name";
  const std::string sql =
      "SELECT d.site_id, {}, sum(CASE WHEN d.meter_kind = 'water' THEN 0 ELSE d.quantity END), "
      "sum(CASE WHEN d.meter_kind = 'water' THEN d.quantity ELSE 0 END), sum(d.cost), "
      "bool_or(coalesce(d.meter_kind, '') <> 'water'), bool_or(coalesce(d.meter_kind = 'water', false)) "
      "FROM daily_usage d LEFT JOIN accounts a ON a.site_id = d.site_id AND a.id = d.account_id "
      "WHERE d.day >= $1::bigint AND d.day < $2::bigint AND d.site_id IN " + sites_of(3) + " "
      "GROUP BY 1, 2";
  auto cells = [mu](Json group, const report::Usage& u) { return report::usage_cells(std::move(group), u, mu); };
  report::Usage total;
  grouped<report::Usage>(
      t, conn, r, sql, key,
      [](const PgResult& res, int i) {
        return report::Usage{res.integer(i, 2), res.integer(i, 3), res.integer(i, 4), res.text(i, 5) == "t",
                     res.text(i, 6) == "t"};
      },
      cells, total);
  t.totals = row_of("total", cells("", total));
  return t;
}

Table balances(PgConnection& conn, const ReportRequest& r) {
  const int mu = r.request.options.minor_units;
  Table t;
  t.columns = {Column{"site"},          Column{"account"},           Column{"name"},
               Column{"status", Kind::status}, Column{"balance", Kind::money}, Column{"credit_limit", Kind::money},
               Column{"alarm1", Kind::money},  Column{"alarm2", Kind::money},  Column{"meters"}};
  site_ids(conn, r.site);
  // The balance the account's row carries, read at the site with its newest ledger entry then
  // (ledger_id), unless a later entry has arrived since: then that entry's.
  auto res = conn.exec(
      "SELECT a.site_id, a.name, coalesce(a.holder, ''), coalesce(a.status, ''), "
      "coalesce((SELECT l.balance FROM ledger l WHERE l.site_id = a.site_id AND l.account_id = a.id "
      "AND l.id > coalesce(a.ledger_id, -1) ORDER BY l.id DESC LIMIT 1), a.balance, 0), coalesce(a.credit_limit, 0), a.alarm1, a.alarm2, "
      "coalesce((SELECT string_agg(DISTINCT d.meter, ' ' ORDER BY d.meter) FROM daily_usage d "
      "WHERE d.site_id = a.site_id AND d.account_id = a.id AND d.day = (SELECT max(day) FROM daily_usage u "
      "WHERE u.site_id = a.site_id AND u.account_id = a.id)), '') "
      "FROM accounts a WHERE a.site_id IN " + sites_of(1) + " AND ($2::text IS NULL OR a.name = $2)",
      {r.site, r.request.options.account});
  // In the site's byte order (PostgreSQL's collation may differ).
  std::map<std::tuple<std::string, std::string>, int> order;
  for (int i = 0; i < res.rows(); ++i) order[{res.text(i, 0), res.text(i, 1)}] = i;
  std::int64_t total = 0;
  auto opt_money = [&](int i, int col) {
    return res.is_null(i, col) ? Json() : Json(report::money_text(res.integer(i, col), mu));
  };
  for (const auto& [key, i] : order) {
    total += res.integer(i, 4);
    t.add({res.text(i, 0), res.text(i, 1), res.text(i, 2), res.text(i, 3), report::money_text(res.integer(i, 4), mu),
           report::money_text(res.integer(i, 5), mu), opt_money(i, 6), opt_money(i, 7), res.text(i, 8)});
  }
  t.totals = {"total", "", "", "", report::money_text(total, mu), "", "", "", ""};
  return t;
}

} // namespace

output::Table hub_report(PgConnection& conn, const ReportRequest& r) {
  switch (r.request.options.name) {
  case report::Name::sales: return sales(conn, r);
  case report::Name::energy: return energy(conn, r);
  case report::Name::balances: return balances(conn, r);
  default: break;
  }
  fail(Exit::usage, "the hub has reports sales, balances and energy, not {}", report::name_text(r.request.options.name));
}

} // namespace kwh::hub
