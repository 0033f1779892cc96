#include <kwh/billing/standing.hpp>

#include <kwh/billing/status.hpp>
#include <kwh/ledger/ledger.hpp>
#include <kwh/storage/database.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace kwh::billing {

namespace {

UnixTime next_boundary(StandingPeriod p, UnixTime after) {
  if (p == StandingPeriod::month) {
    UnixTime b = local_month_start(after);
    return b > after ? b : add_local_months(b, 1);
  }
  UnixTime b = local_day_start(after);
  return b > after ? b : add_local_days(b, 1);
}

// Adds a standing charge to the account's open debt of kind 'standing' (one per account until it
// is recovered: amount and remaining grow, next_due keeps the last boundary accrued), or opens
// one, recovered from all of each sale within [billing] debt_min_energy_share.
void accrue_standing_debt(storage::Database& db, std::int64_t account_id, std::int64_t amount, UnixTime day) {
  auto& upd = db.cached("UPDATE debts SET amount = amount + ?2, remaining = remaining + ?2, next_due = ?3 WHERE id = "
                        "(SELECT max(id) FROM debts WHERE account_id = ?1 AND kind = 'standing' AND remaining > 0)");
  upd.bind_all(account_id, amount, day);
  upd.run();
  if (db.changes() > 0) return;
  auto& ins = db.cached("INSERT INTO debts(account_id, created, amount, remaining, note, share, next_due, operator, "
                        "kind) VALUES (?1, ?2, ?3, ?3, 'standing charges while disconnected for arrears', 100, ?2, "
                        "'kwh', 'standing')");
  ins.bind_all(account_id, day, amount);
  ins.run();
}

} // namespace

bool has_standing(const TariffHistory& tariff) {
  return std::any_of(tariff.versions().begin(), tariff.versions().end(),
                     [](const StoredVersion& v) { return v.version.standing_period != StandingPeriod::none; });
}

std::int64_t charge_standing(storage::Database& db, const config::Config& config, std::int64_t account_id,
                             const TariffHistory& tariff, UnixTime until, ledger::Head* head) {
  if (!has_standing(tariff)) return 0;
  // How far it has been charged: its last standing entry, or the last boundary accrued as debt.
  auto& st = db.cached("SELECT a.opened, a.status, max(coalesce((SELECT max(time) FROM ledger l WHERE l.account_id = "
                       "a.id AND l.kind = 'standing'), a.opened), coalesce((SELECT max(next_due) FROM debts d WHERE "
                       "d.account_id = a.id AND d.kind = 'standing'), a.opened)), EXISTS (SELECT 1 FROM assignments s "
                       "JOIN meters m ON m.id = s.meter_id WHERE s.account_id = a.id AND s.valid_to IS NULL AND "
                       "m.relay_reason = 'arrears' AND m.relay_state = 'off') FROM accounts a WHERE a.id = ?1");
  st.bind(1, account_id);
  if (!st.step()) return 0;
  UnixTime from = std::max(st.get_int(0), st.get_int(2));
  bool closed = st.get_text(1) == "closed";
  // [billing] standing_while_disconnected = "debt": an account in arrears whose relay kwh has
  // opened for it owes what falls due meanwhile as a debt, recovered from its next sales.
  const bool as_debt = config.billing.standing_while_disconnected_debt && st.get_text(1) == "arrears" &&
                       st.get_int(3) != 0;
  st.reset();
  if (closed) return 0;
  std::int64_t total = 0;
  UnixTime t = from;
  // Walk day by day (the smallest period); each boundary of the version in force is charged.
  for (int guard = 0; guard < 100'000; ++guard) {
    UnixTime day = next_boundary(StandingPeriod::day, t);
    if (day > until) break;
    t = day;
    const TariffVersion* v = tariff.at(day);
    if (!v || v->standing_period == StandingPeriod::none || v->standing_charge.minor() <= 0) continue;
    if (v->standing_period == StandingPeriod::month && local_month_start(day) != day) continue;
    if (as_debt) {
      accrue_standing_debt(db, account_id, v->standing_charge.minor(), day);
      continue;
    }
    ledger::Entry e;
    e.account_id = account_id;
    e.time = day;
    e.kind = "standing";
    e.amount = -v->standing_charge.minor();
    e.note = fmt::format("standing charge for the {} starting {}",
                         v->standing_period == StandingPeriod::day ? "day" : "month", format_date(day));
    ledger::append(db, std::move(e), head);
    total += v->standing_charge.minor();
  }
  if (total > 0) update_status(db, config, account_id, until, until, false);
  return total;
}

std::int64_t charge_standing_all(storage::Database& db, const config::Config& config, UnixTime until) {
  std::vector<std::pair<std::int64_t, std::int64_t>> accounts;
  {
    auto st = db.prepare("SELECT id, tariff_id FROM accounts WHERE status != 'closed' ORDER BY id");
    while (st.step()) accounts.push_back({st.get_int(0), st.get_int(1)});
  }
  std::map<std::int64_t, TariffHistory> tariffs;
  std::int64_t total = 0;
  for (const auto& [account, tariff_id] : accounts) {
    auto it = tariffs.find(tariff_id);
    if (it == tariffs.end())
      it = tariffs.emplace(tariff_id, TariffHistory(tariff_versions(db, tariff_id, config.minor_units))).first;
    total += charge_standing(db, config, account, it->second, until);
  }
  return total;
}

} // namespace kwh::billing
