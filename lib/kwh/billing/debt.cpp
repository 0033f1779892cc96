#include <kwh/billing/debt.hpp>

#include <kwh/billing/account.hpp>
#include <kwh/billing/status.hpp>
#include <kwh/ledger/ledger.hpp>
#include <kwh/storage/database.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace kwh::billing {

namespace {

constexpr const char* k_select = "SELECT d.id, a.name, d.created, d.amount, d.remaining, d.note, d.share, d.fixed, "
                                 "d.period, CASE WHEN d.fixed IS NULL THEN NULL ELSE d.next_due END, d.operator FROM debts d "
                                 "JOIN accounts a ON a.id = d.account_id ";

DebtPeriod parse_period(const std::optional<std::string>& s) {
  if (s == std::optional<std::string>("week")) return DebtPeriod::week;
  if (s == std::optional<std::string>("month")) return DebtPeriod::month;
  return DebtPeriod::none;
}

Debt read_debt(const storage::Statement& st) {
  Debt d;
  d.id = st.get_int(0);
  d.account = st.get_text(1);
  d.created = st.get_int(2);
  d.amount = st.get_int(3);
  d.remaining = st.get_int(4);
  d.note = st.get_text(5);
  if (auto s = st.get_opt_int(6)) d.share = static_cast<int>(*s);
  d.fixed = st.get_opt_int(7);
  d.period = parse_period(st.get_opt_text(8));
  d.next_due = st.get_opt_int(9);
  d.operator_name = st.get_opt_text(10).value_or("");
  return d;
}

UnixTime next_period(DebtPeriod p, UnixTime t) {
  // Monthly on the first of the month; weekly seven days on.
  return p == DebtPeriod::month ? add_local_months(local_month_start(t), 1) : add_local_days(t, 7);
}

// One recovery: the ledger entry and the debt's remaining, together.
void recover(storage::Database& db, std::int64_t account_id, std::int64_t debt_id, std::int64_t amount,
             UnixTime time, const std::string& operator_name, const std::string& note) {
  ledger::Entry e;
  e.account_id = account_id;
  e.time = time;
  e.kind = "debt";
  e.amount = -amount;
  e.operator_name = operator_name;
  e.note = note;
  e.debt_id = debt_id;
  ledger::append(db, std::move(e));
  auto& st = db.cached("UPDATE debts SET remaining = remaining - ?2 WHERE id = ?1");
  st.bind_all(debt_id, amount);
  st.run();
}

} // namespace

const char* period_name(DebtPeriod p) {
  switch (p) {
  case DebtPeriod::week: return "week";
  case DebtPeriod::month: return "month";
  case DebtPeriod::none: break;
  }
  return "";
}

Debt add_debt(storage::Database& db, const config::Config& config, const NewDebt& r) {
  Account a = find_account(db, r.account);
  if (a.status == "closed") fail(Exit::data, "account {} is closed", a.name);
  if (r.amount.minor() <= 0) fail(Exit::data, "the debt must be more than zero");
  if (r.note.empty()) fail(Exit::data, "--note must say what the debt is for");
  if (r.share && (*r.share < 1 || *r.share > 100)) fail(Exit::data, "--recover must be 1% to 100%");
  if (r.fixed && r.fixed->minor() <= 0) fail(Exit::data, "--fixed must be more than zero");
  if (r.fixed.has_value() != (r.period != DebtPeriod::none))
    fail(Exit::data, "--fixed and --every go together");
  if (!r.share && !r.fixed) fail(Exit::data, "say how it is recovered: --recover PERCENT, --fixed MONEY --every PERIOD, or both");
  std::optional<std::int64_t> fixed;
  std::optional<std::string> period;
  std::optional<UnixTime> due;
  if (r.fixed) {
    fixed = r.fixed->minor();
    period = period_name(r.period);
    due = next_period(r.period, r.time);
  }
  std::optional<std::int64_t> share;
  if (r.share) share = *r.share;
  db.cached("INSERT INTO debts(account_id, created, amount, remaining, note, share, fixed, period, next_due, operator) "
            "VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
      .bind_all(a.id, r.time, r.amount.minor(), r.note, share, fixed, period, due, r.operator_name)
      .run();
  const std::int64_t id = db.last_insert_rowid();
  write_event(db, r.time, "debt_added", std::nullopt, a.id,
              fmt::format("account {} owes a debt of {}: {}", a.name, r.amount.format(config.minor_units), r.note));
  auto st = db.prepare(std::string(k_select) + "WHERE d.id = ?1");
  st.bind(1, id);
  st.step();
  return read_debt(st);
}

std::vector<Debt> list_debts(storage::Database& db, const std::string& account, bool open_only) {
  if (!account.empty()) find_account(db, account); // Exit::no_input for an unknown one
  auto st = db.prepare(std::string(k_select) +
                       "WHERE (?1 = '' OR a.name = ?1) AND (?2 = 0 OR d.remaining > 0) ORDER BY a.name, d.id");
  st.bind_all(account, open_only ? 1 : 0);
  std::vector<Debt> out;
  while (st.step()) out.push_back(read_debt(st));
  return out;
}

std::int64_t recover_from_sale(storage::Database& db, const config::Config& config, std::int64_t account_id,
                               std::int64_t paid, std::int64_t emergency_repaid, UnixTime time,
                               const std::string& operator_name, std::int64_t receipt) {
  const std::int64_t left = paid - emergency_repaid;
  if (left <= 0) return 0;
  // At least debt_min_energy_share % of what is left buys energy.
  std::int64_t cap = left * (100 - config.billing.debt_min_energy_share) / 100;
  std::vector<std::pair<std::int64_t, std::int64_t>> debts; // id, what its share asks
  {
    auto& st = db.cached("SELECT id, remaining, share FROM debts WHERE account_id = ?1 AND remaining > 0 AND share "
                         "IS NOT NULL ORDER BY id");
    st.bind(1, account_id);
    while (st.step()) debts.emplace_back(st.get_int(0), std::min(st.get_int(1), left * st.get_int(2) / 100));
    st.reset();
  }
  std::int64_t total = 0;
  for (const auto& [id, asks] : debts) {
    const std::int64_t r = std::min(asks, cap - total);
    if (r <= 0) break;
    recover(db, account_id, id, r, time, operator_name, fmt::format("debt {} recovered from receipt {}", id, receipt));
    total += r;
  }
  return total;
}

std::int64_t charge_debts_due(storage::Database& db, const config::Config& config, UnixTime until) {
  struct Due {
    std::int64_t id, account_id, remaining, fixed;
    DebtPeriod period;
    UnixTime next_due;
  };
  std::vector<Due> due;
  {
    auto st = db.prepare("SELECT d.id, d.account_id, d.remaining, d.fixed, d.period, d.next_due FROM debts d JOIN "
                         "accounts a ON a.id = d.account_id WHERE d.remaining > 0 AND d.fixed IS NOT NULL AND "
                         "d.next_due <= ?1 AND a.status != 'closed' ORDER BY d.next_due, d.id");
    st.bind(1, until);
    while (st.step())
      due.push_back({st.get_int(0), st.get_int(1), st.get_int(2), st.get_int(3), parse_period(st.get_opt_text(4)),
                     st.get_int(5)});
  }
  std::int64_t total = 0;
  std::map<std::int64_t, UnixTime> touched;
  for (auto d : due) {
    while (d.remaining > 0 && d.next_due <= until) {
      const std::int64_t r = std::min(d.fixed, d.remaining);
      recover(db, d.account_id, d.id, r, d.next_due, "kwh",
              fmt::format("debt {}: the {}ly recovery due {}", d.id, period_name(d.period), format_date(d.next_due)));
      d.remaining -= r;
      total += r;
      touched[d.account_id] = std::max(touched[d.account_id], d.next_due);
      d.next_due = next_period(d.period, d.next_due);
    }
    db.cached("UPDATE debts SET next_due = ?2 WHERE id = ?1").bind_all(d.id, d.next_due).run();
  }
  for (const auto& [account, when] : touched) update_status(db, config, account, when, until, false);
  return total;
}

std::vector<std::string> verify_debts(storage::Database& db) {
  std::vector<std::string> findings;
  auto st = db.prepare("SELECT d.id, d.amount, d.remaining, coalesce((SELECT -sum(amount) FROM ledger l WHERE "
                       "l.debt_id = d.id), 0) FROM debts d ORDER BY d.id");
  while (st.step()) {
    const std::int64_t id = st.get_int(0), amount = st.get_int(1), remaining = st.get_int(2), recovered = st.get_int(3);
    if (recovered > amount)
      findings.push_back(fmt::format("debts: debt {} was recovered {} of an amount of {}", id, recovered, amount));
    if (remaining != amount - recovered)
      findings.push_back(fmt::format("debts: debt {} says {} remains, but its amount {} less its recoveries {} is {}",
                                     id, remaining, amount, recovered, amount - recovered));
  }
  return findings;
}

} // namespace kwh::billing
