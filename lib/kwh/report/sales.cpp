// report sales and report reconcile: money taken in, from the ledger's sale and refund rows
// (read through its (kind, time) index, so that consumption charges are never scanned).
// Opening balances (kind 'opening', kwh account import) are never takings: reconcile shows them
// on rows of their own.

#include <kwh/report/report.hpp>

#include <map>
#include <tuple>

namespace kwh::report {

using output::Column;
using output::Json;
using output::Kind;
using output::Table;

std::vector<Json> takings_cells(const Takings& t, int mu) {
  return {money_text(t.sales, mu), money_text(t.refunds, mu), money_text(t.net(), mu), t.count};
}

namespace {

std::vector<Json> joined(std::vector<Json> key, std::vector<Json> rest) {
  for (auto& v : rest) key.push_back(std::move(v));
  return key;
}

// INDEXED BY: with statistics (ANALYZE) SQLite may prefer walking accounts and the
// (account_id, time) index, which reads every consumption charge; sales are a few percent of
// the ledger, so the (kind, time) index is always the cheaper path.
const char* k_takings_sql =
    "SELECT l.time, l.kind, l.amount, l.operator, a.name, l.method, l.id, l.account_id, l.balance + coalesce(l.accrued, 0) "
    "FROM ledger l INDEXED BY ledger_kind_time JOIN accounts a ON a.id = l.account_id "
    "WHERE l.kind IN ('sale', 'refund') AND l.time >= ?1 AND l.time < ?2 AND (?3 IS NULL OR l.account_id = ?3) "
    "ORDER BY l.time, l.id";

storage::Statement takings_rows(storage::Database& db, const Request& r) {
  auto st = db.prepare(k_takings_sql);
  st.bind(1, r.period.from).bind(2, r.period.to);
  if (r.options.account) st.bind(3, account_id(db, *r.options.account));
  else st.bind_null(3);
  return st;
}

} // namespace

Table sales(storage::Database& db, const Request& r) {
  const int mu = r.options.minor_units;
  const By by = *r.options.by;
  Table t;
  const bool by_period = by == By::day || by == By::month || by == By::year;
  t.columns = {Column{by_period ? "period" : std::string(by_text(by)), by == By::day ? Kind::date : Kind::text},
               Column{"sales", Kind::money}, Column{"refunds", Kind::money}, Column{"net", Kind::money},
               Column{"count", Kind::integer}};
  Takings total;
  auto st = takings_rows(db, r);
  if (by_period) {
    Buckets buckets(r.period, by == By::day ? Step::day : by == By::month ? Step::month : Step::year);
    std::vector<Takings> sums(buckets.size());
    while (st.step()) {
      auto i = buckets.index(st.get_int(0));
      if (!i) continue;
      sums[*i].add(st.get_text(1), st.get_int(2));
    }
    for (std::size_t i = 0; i < sums.size(); ++i) {
      t.add(joined({buckets.label(i)}, takings_cells(sums[i], mu)));
      total.add(sums[i]);
    }
  } else {
    std::map<std::string, Takings> sums;
    while (st.step()) {
      std::string key = by == By::operator_ ? st.get_opt_text(3).value_or("") : st.get_text(4);
      sums[key].add(st.get_text(1), st.get_int(2));
      total.add(st.get_text(1), st.get_int(2));
    }
    for (const auto& [key, s] : sums) t.add(joined({key}, takings_cells(s, mu)));
  }
  t.totals = joined({"total"}, takings_cells(total, mu));
  return t;
}

Built reconcile(storage::Database& db, const Request& r) {
  const int mu = r.options.minor_units;
  Table t;
  t.columns = {Column{"operator"},          Column{"method"},         Column{"sales", Kind::money},
               Column{"refunds", Kind::money}, Column{"net", Kind::money}, Column{"count", Kind::integer},
               Column{"source"},           Column{"meter_balance", Kind::money}, Column{"ledger_balance", Kind::money}};
  // The payment rows have no balances; the meter rows below have no takings.
  const std::vector<Json> no_balances{Json(), Json()};

  // 1. The payments, by operator and payment method.
  std::map<std::tuple<std::string, std::string>, Takings> by_desk;
  std::map<std::tuple<std::string, std::string>, std::tuple<Json, Json>> shown; // NULLs stay null
  Takings payments, movements;
  // Balances as the ledger's own sums (balance + accrued): consumption accrued in between moves
  // the balance but not the ledger.
  auto previous_balance = db.prepare("SELECT balance + coalesce(accrued, 0) FROM ledger WHERE account_id = ? AND id < ? "
                                     "ORDER BY id DESC LIMIT 1");
  auto st = takings_rows(db, r);
  while (st.step()) {
    auto op = st.get_opt_text(3);
    auto method = st.get_opt_text(5);
    std::tuple<std::string, std::string> key{op.value_or(""), method.value_or("")};
    shown[key] = {op ? Json(*op) : Json(), method ? Json(*method) : Json()};
    const std::string kind = st.get_text(1);
    by_desk[key].add(kind, st.get_int(2));
    payments.add(kind, st.get_int(2));
    // 3. What each entry did to its account's balance: its balance after, less the one before.
    previous_balance.reset();
    previous_balance.bind_all(st.get_int(7), st.get_int(6));
    std::int64_t before = previous_balance.step() ? previous_balance.get_int(0) : 0;
    movements.add(kind, st.get_int(8) - before);
  }
  for (const auto& [key, s] : by_desk) {
    auto& [op, method] = shown[key];
    t.add(joined({op, method}, joined(takings_cells(s, mu), joined({"payments"}, no_balances))));
  }

  // 2. The ledger's own totals, summed by SQLite apart from the rows above.
  Takings ledger;
  auto agg = db.prepare("SELECT kind, SUM(amount), COUNT(*) FROM ledger INDEXED BY ledger_kind_time "
                        "WHERE kind IN ('sale', 'refund') "
                        "AND time >= ? AND time < ? GROUP BY kind");
  agg.bind_all(r.period.from, r.period.to);
  while (agg.step()) {
    if (agg.get_text(0) == "sale") ledger.sales += agg.get_int(1);
    else ledger.refunds -= agg.get_int(1);
    ledger.count += agg.get_int(2);
  }

  t.add(joined({"(all)", "(all)"}, joined(takings_cells(payments, mu), joined({"payments"}, no_balances))));
  t.add(joined({"(all)", "(all)"}, joined(takings_cells(ledger, mu), joined({"ledger"}, no_balances))));
  t.add(joined({"(all)", "(all)"}, joined(takings_cells(movements, mu), joined({"balances"}, no_balances))));

  // Opening balances (kwh account import), by operator: money that came with the accounts, not
  // taken at a desk, so apart from the payments and their totals. Net is their sum (a debt
  // carried over is negative); sales and refunds stay empty.
  auto openings = db.prepare("SELECT operator, SUM(amount), COUNT(*) FROM ledger INDEXED BY ledger_kind_time "
                             "WHERE kind = 'opening' AND time >= ? AND time < ? GROUP BY operator ORDER BY operator");
  openings.bind_all(r.period.from, r.period.to);
  while (openings.step())
    t.add({openings.is_null(0) ? Json() : Json(openings.get_text(0)), Json(), Json(), Json(),
           Json(money_text(openings.get_int(1), mu)), openings.get_int(2), "opening", Json(), Json()});

  // 4. Meters that keep their own balance (they read meter_balance) against the ledger, now: the
  // account's balance (current to its last reading) beside the meter's at its last reading. They
  // differ by what each has not yet seen (charges since the meter's last reading, refunds,
  // standing charges the meter does not know); net is the meter's less the ledger's.
  auto own = db.prepare("SELECT a.name, m.name, a.balance, json_extract(v.\"values\", '$.meter_balance') "
                        "FROM meters m JOIN meter_values v ON v.meter_id = m.id "
                        "JOIN assignments s ON s.meter_id = m.id AND s.valid_to IS NULL "
                        "JOIN accounts a ON a.id = s.account_id "
                        "WHERE json_type(v.\"values\", '$.meter_balance') = 'integer' ORDER BY a.name, m.name");
  while (own.step()) {
    const std::int64_t ledger_balance = own.get_int(2), meter_balance = own.get_int(3);
    t.add({own.get_text(0), own.get_text(1), Json(), Json(), Json(money_text(meter_balance - ledger_balance, mu)), Json(),
           "meter", Json(money_text(meter_balance, mu)), Json(money_text(ledger_balance, mu))});
  }

  std::string discrepancy;
  auto describe = [&](const char* what, const Takings& a, const Takings& b) {
    if (a == b || !discrepancy.empty()) return;
    discrepancy = fmt::format("not reconciled: payments have sales {}, refunds {} in {} entries, but {} say "
                              "sales {}, refunds {} in {} entries (net difference {})",
                              money_text(a.sales, mu), money_text(a.refunds, mu), a.count, what,
                              money_text(b.sales, mu), money_text(b.refunds, mu), b.count,
                              money_text(b.net() - a.net(), mu));
  };
  describe("ledger totals", payments, ledger);
  describe("balance movements", payments, movements);
  return {std::move(t), discrepancy};
}

} // namespace kwh::report
