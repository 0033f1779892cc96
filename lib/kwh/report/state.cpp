// The reports of the present state: balances (accounts), alarms (events), offline (meters and
// gateways that lost connection) and gateways.

#include <kwh/report/report.hpp>

#include <chrono>

namespace kwh::report {

using output::Column;
using output::Json;
using output::Kind;
using output::Table;

namespace {

Json opt_text(const storage::Statement& st, int col) {
  auto v = st.get_opt_text(col);
  return v ? Json(*v) : Json();
}

Json opt_money(const storage::Statement& st, int col, int mu) {
  auto v = st.get_opt_int(col);
  return v ? Json(money_text(*v, mu)) : Json();
}

Json opt_time(const storage::Statement& st, int col) {
  auto v = st.get_opt_int(col);
  return v ? Json(format_time(*v)) : Json();
}

// "3d 4h 05m" for people; whole minutes are enough to see how long something has been down.
std::string human_duration(std::int64_t seconds) {
  if (seconds < 0) seconds = 0;
  std::int64_t d = seconds / 86400, h = seconds % 86400 / 3600, m = seconds % 3600 / 60;
  if (d > 0) return fmt::format("{}d {}h {:02}m", d, h, m);
  if (h > 0) return fmt::format("{}h {:02}m", h, m);
  return fmt::format("{}m", m);
}

} // namespace

Table balances(storage::Database& db, const Request& r) {
  const int mu = r.options.minor_units;
  Table t;
  t.columns = {Column{"account"},
               Column{"name"},
               Column{"status", Kind::status},
               Column{"balance", Kind::money},
               Column{"credit_limit", Kind::money},
               Column{"alarm1", Kind::money},
               Column{"alarm2", Kind::money},
               Column{"meters"}};
  // The meters an account holds now, space-separated (a CSV cell without quoting).
  auto st = db.prepare(
      "SELECT a.name, a.holder, a.status, a.balance, a.credit_limit, a.alarm1, a.alarm2, "
      "(SELECT group_concat(name, ' ') FROM (SELECT m.name FROM assignments s JOIN meters m ON m.id = s.meter_id "
      " WHERE s.account_id = a.id AND s.valid_to IS NULL ORDER BY m.name)) "
      "FROM accounts a WHERE (?1 IS NULL OR a.name = ?1) ORDER BY a.name");
  if (r.options.account) {
    account_id(db, *r.options.account);
    st.bind(1, *r.options.account);
  } else {
    st.bind_null(1);
  }
  std::int64_t total = 0;
  while (st.step()) {
    total += st.get_int(3);
    t.add({st.get_text(0), st.get_text(1), st.get_text(2), money_text(st.get_int(3), mu),
           money_text(st.get_int(4), mu), opt_money(st, 5, mu), opt_money(st, 6, mu), st.get_opt_text(7).value_or("")});
  }
  t.totals = {"total", "", "", money_text(total, mu), "", "", "", ""};
  return t;
}

Table alarms(storage::Database& db, const Request& r) {
  Table t;
  t.columns = {Column{"time", Kind::time}, Column{"kind", Kind::status}, Column{"account"}, Column{"meter"},
               Column{"gateway"},          Column{"detail"},             Column{"ended", Kind::time},
               Column{"active"}};
  // Alarms are every event that reports a problem; the events that only record a change or a
  // recovery (online again, relay switched, account opened or closed, meter replaced) are not.
  // Active alarms raised before the period are shown too: they still need attention. Only
  // the kinds that last until something ends them can be active (offline, balance alarms,
  // arrears, overload, implausible readings); the others (a counter reset, a relay found in the
  // wrong state, a command given up, a clock found off) happened at one time and are never
  // active.
  auto st = db.prepare(
      "WITH e AS (SELECT *, (ended IS NULL AND kind IN ('meter_offline', 'gateway_offline', 'device_offline', "
      "'alarm1', 'alarm2', 'arrears', 'overload', 'implausible')) AS open FROM events) "
      "SELECT e.time, e.kind, a.name, m.name, g.name, e.detail, e.ended, e.open FROM e "
      "LEFT JOIN accounts a ON a.id = e.account_id LEFT JOIN meters m ON m.id = e.meter_id "
      "LEFT JOIN gateways g ON g.id = e.gateway_id "
      "WHERE e.kind NOT IN ('meter_online', 'gateway_online', 'device_online', 'relay_changed', 'account_opened', "
      "'account_closed', 'meter_replaced') "
      "AND ((e.time >= ?1 AND e.time < ?2) OR e.open) AND (?3 = 0 OR e.open) "
      "AND (?4 IS NULL OR e.account_id = ?4) ORDER BY e.time, e.id");
  st.bind(1, r.period.from).bind(2, r.period.to).bind(3, r.options.active ? 1 : 0);
  if (r.options.account) st.bind(4, account_id(db, *r.options.account));
  else st.bind_null(4);
  while (st.step()) {
    t.add({format_time(st.get_int(0)), st.get_text(1), opt_text(st, 2), opt_text(st, 3), opt_text(st, 4),
           opt_text(st, 5), opt_time(st, 6), st.get_int(7) ? "yes" : "no"});
  }
  return t;
}

Table offline(storage::Database& db, const Request& r) {
  Table t;
  t.columns = {Column{"kind"},         Column{"name"},     Column{"gateway"}, Column{"since", Kind::time},
               Column{"duration"},     Column{"duration_s", Kind::integer}};
  // Since when: the status change kwhd recorded, else the open offline event.
  auto st = db.prepare(
      "SELECT 'gateway', g.name, NULL, COALESCE(g.status_since, (SELECT MAX(time) FROM events e "
      " WHERE e.kind = 'gateway_offline' AND e.gateway_id = g.id AND e.ended IS NULL)) "
      "FROM gateways g WHERE g.status = 'offline' "
      "UNION ALL "
      "SELECT 'meter', m.name, g.name, COALESCE(m.status_since, (SELECT MAX(time) FROM events e "
      " WHERE e.kind = 'meter_offline' AND e.meter_id = m.id AND e.ended IS NULL)) "
      "FROM meters m JOIN gateways g ON g.id = m.gateway_id WHERE m.status = 'offline' AND m.removed IS NULL "
      "ORDER BY 1, 2");
  while (st.step()) {
    auto since = st.get_opt_int(3);
    std::int64_t seconds = since ? r.options.now - *since : 0;
    t.add({st.get_text(0), st.get_text(1), opt_text(st, 2), since ? Json(format_time(*since)) : Json(),
           since ? Json(human_duration(seconds)) : Json(), since ? Json(seconds) : Json()});
  }
  return t;
}

Table gateways(storage::Database& db, const Request&) {
  Table t;
  t.columns = {Column{"gateway"},       Column{"transport"},           Column{"address"},
               Column{"status", Kind::status}, Column{"since", Kind::time}, Column{"meters", Kind::integer},
               Column{"online", Kind::integer}, Column{"offline", Kind::integer}};
  auto st = db.prepare(
      "SELECT g.name, g.transport, g.address, g.status, g.status_since, "
      "COUNT(m.id), COALESCE(SUM(m.status = 'online'), 0), COALESCE(SUM(m.status = 'offline'), 0) "
      "FROM gateways g LEFT JOIN meters m ON m.gateway_id = g.id AND m.removed IS NULL "
      "GROUP BY g.id ORDER BY g.name");
  std::int64_t meters = 0, online = 0, off = 0;
  while (st.step()) {
    meters += st.get_int(5), online += st.get_int(6), off += st.get_int(7);
    t.add({st.get_text(0), st.get_text(1), st.get_text(2), st.get_text(3), opt_time(st, 4), st.get_int(5),
           st.get_int(6), st.get_int(7)});
  }
  t.totals = {"total", "", "", "", "", meters, online, off};
  return t;
}

} // namespace kwh::report
