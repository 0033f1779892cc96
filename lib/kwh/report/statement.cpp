// report statement --account A: the account's own statement for a period. One table, told by
// its `kind` column: an opening row, every ledger entry of the period in time order with the
// running balance, the consumption by band, and a closing row whose note states that opening
// plus movements equals closing, checked against the ledger and the account's balance.
//
// A day's consumption is one charge entry per meter and band once the day is over; until then
// it is in an open accumulator, which the statement shows as a charge row of its own (note
// "open: the day so far") at the time of its last reading, so that a statement that reaches
// today is complete without writing anything.

#include <kwh/report/report.hpp>

#include <map>
#include <tuple>

namespace kwh::report {

using output::Column;
using output::Json;
using output::Kind;
using output::Table;

namespace {

Json opt_int(const storage::Statement& st, int col) {
  auto v = st.get_opt_int(col);
  return v ? Json(*v) : Json();
}
Json opt_text(const storage::Statement& st, int col) {
  auto v = st.get_opt_text(col);
  return v ? Json(*v) : Json();
}
Json opt_time(const storage::Statement& st, int col) {
  auto v = st.get_opt_int(col);
  return v ? Json(format_time(*v)) : Json();
}

// The account's balance as of `before`: its entries and its open accumulators until then.
std::int64_t ledger_sum(storage::Database& db, std::int64_t account, UnixTime before) {
  auto st = db.prepare("SELECT (SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE account_id = ?1 AND time < ?2) - "
                       "(SELECT COALESCE(SUM(amount), 0) FROM accumulators WHERE account_id = ?1 AND t1 < ?2)");
  st.bind_all(account, before);
  st.step();
  return st.get_int(0);
}

} // namespace

Built statement(storage::Database& db, const Request& r) {
  const int mu = r.options.minor_units;
  const std::int64_t account = account_id(db, *r.options.account);
  Table t;
  t.columns = {Column{"time", Kind::time},    Column{"kind"},           Column{"amount", Kind::money},
               Column{"balance", Kind::money}, Column{"receipt", Kind::integer}, Column{"method"},
               Column{"meter"},               Column{"from", Kind::time}, Column{"to", Kind::time},
               Column{"quantity", Kind::integer}, Column{"unit"},       Column{"band"},
               Column{"note"}};
  auto blank = [&] { return std::vector<Json>(t.columns.size()); };

  const std::int64_t opening = ledger_sum(db, account, r.period.from);
  {
    auto row = blank();
    row[0] = format_time(r.period.from), row[1] = "opening", row[3] = money_text(opening, mu);
    t.add(std::move(row));
  }

  // Consumption by unit and band: quantity and what it cost.
  std::map<std::tuple<std::string, std::optional<std::string>>, std::pair<std::int64_t, std::int64_t>> bands;
  std::int64_t balance = opening, movements = 0;
  auto st = db.prepare(
      "SELECT e.time, e.kind, e.amount, e.receipt, e.method, m.name, m.kind, e.t0, e.t1, e.quantity, e.band, e.note "
      "FROM ("
      " SELECT l.time, l.kind, l.amount, l.receipt, l.method, l.meter_id, l.t0, l.t1, l.quantity, l.band, l.note, "
      "  0 AS open, l.id AS id FROM ledger l WHERE l.account_id = ?1 AND l.time >= ?2 AND l.time < ?3 "
      " UNION ALL "
      " SELECT c.t1, 'charge', -c.amount, NULL, NULL, c.meter_id, c.t0, c.t1, c.quantity, c.band, "
      "  'open: the day so far', 1, 0 FROM accumulators c WHERE c.account_id = ?1 AND c.t1 >= ?2 AND c.t1 < ?3"
      ") e LEFT JOIN meters m ON m.id = e.meter_id ORDER BY e.time, e.open, e.id, e.band");
  st.bind_all(account, r.period.from, r.period.to);
  while (st.step()) {
    const std::int64_t amount = st.get_int(2);
    balance += amount, movements += amount;
    auto unit = st.is_null(9) ? Json() : Json(st.get_opt_text(6).value_or("") == "water" ? "L" : "Wh");
    if (st.get_text(1) == "charge" && !st.is_null(9)) {
      auto& b = bands[{unit.text(), st.get_opt_text(10)}];
      b.first += st.get_int(9), b.second += amount;
    }
    t.add({format_time(st.get_int(0)), st.get_text(1), money_text(amount, mu), money_text(balance, mu), opt_int(st, 3),
           opt_text(st, 4), opt_text(st, 5), opt_time(st, 7), opt_time(st, 8), opt_int(st, 9), unit, opt_text(st, 10),
           opt_text(st, 11)});
  }
  for (const auto& [key, b] : bands) {
    auto row = blank();
    const auto& [unit, band] = key;
    row[1] = "consumption", row[2] = money_text(b.second, mu), row[9] = b.first, row[10] = unit;
    row[11] = band ? Json(*band) : Json();
    t.add(std::move(row));
  }

  // The check: the closing balance from opening plus movements must equal the ledger's own sum
  // up to the end of the period, and, when nothing was booked after it, the account's balance.
  std::string discrepancy;
  const std::int64_t ledger_closing = ledger_sum(db, account, r.period.to);
  if (ledger_closing != balance)
    discrepancy = fmt::format("statement of {} does not add up: opening {} + movements {} = {}, but the ledger sums "
                              "to {} at the end of the period",
                              *r.options.account, money_text(opening, mu), money_text(movements, mu),
                              money_text(balance, mu), money_text(ledger_closing, mu));
  auto later = db.prepare("SELECT (SELECT COUNT(*) FROM ledger WHERE account_id = ?1 AND time >= ?2) + (SELECT "
                          "COUNT(*) FROM accumulators WHERE account_id = ?1 AND t1 >= ?2), "
                          "(SELECT balance FROM accounts WHERE id = ?1)");
  later.bind_all(account, r.period.to);
  later.step();
  if (discrepancy.empty() && later.get_int(0) == 0 && later.get_int(1) != balance)
    discrepancy = fmt::format("statement of {} does not add up: closing {} but the account's balance is {}",
                              *r.options.account, money_text(balance, mu), money_text(later.get_int(1), mu));
  auto row = blank();
  row[0] = format_time(r.period.to), row[1] = "closing", row[2] = money_text(movements, mu);
  row[3] = money_text(balance, mu);
  row[12] = fmt::format("opening {} + movements {} = closing {}: {}", money_text(opening, mu), money_text(movements, mu),
                        money_text(balance, mu), discrepancy.empty() ? "agrees with the ledger" : "DOES NOT AGREE");
  t.add(std::move(row));

  // What the account owes besides its balance: emergency credit not yet repaid at the end of the
  // period (its grants less its repayments, from the ledger), and its debts' remainders with
  // their schedules (as they stand now: a debt's amount grows while standing charges accrue).
  auto owed = db.prepare("SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE account_id = ?1 AND kind = 'emergency' "
                         "AND time < ?2");
  owed.bind_all(account, r.period.to);
  owed.step();
  if (const std::int64_t e = owed.get_int(0); e != 0) {
    auto o = blank();
    o[0] = format_time(r.period.to), o[1] = "emergency_owed", o[2] = money_text(e, mu);
    o[12] = "emergency credit still to repay, first from the next sale";
    t.add(std::move(o));
  }
  auto debts = db.prepare("SELECT id, remaining, note, share, fixed, period FROM debts WHERE account_id = ?1 AND "
                          "remaining > 0 AND created < ?2 ORDER BY id");
  debts.bind_all(account, r.period.to);
  while (debts.step()) {
    auto d = blank();
    std::string schedule;
    if (auto share = debts.get_opt_int(3); share && *share > 0) schedule = fmt::format("{}% of each sale", *share);
    if (auto fixed = debts.get_opt_int(4))
      schedule += fmt::format("{}{} a {}", schedule.empty() ? "" : " and ", money_text(*fixed, mu),
                              debts.get_opt_text(5).value_or("month"));
    d[0] = format_time(r.period.to), d[1] = "debt", d[2] = money_text(debts.get_int(1), mu);
    d[12] = fmt::format("debt {}: {}{}", debts.get_int(0), debts.get_opt_text(2).value_or(""),
                        schedule.empty() ? std::string() : "; recovered " + schedule);
    t.add(std::move(d));
  }
  return {std::move(t), discrepancy};
}

} // namespace kwh::report
