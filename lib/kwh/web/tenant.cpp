#include <kwh/web/tenant.hpp>

#include <kwh/audit/log.hpp>
#include <kwh/billing/credit.hpp>
#include <kwh/billing/account.hpp>
#include <kwh/billing/payment.hpp>
#include <kwh/billing/receipt.hpp>
#include <kwh/billing/tariff.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/util/error.hpp>
#include <kwh/util/money.hpp>

#include <fmt/format.h>

namespace kwh::web {
namespace {

std::string local_text(UnixTime t) {
  const LocalTime l = to_local(t);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}", l.year, l.month, l.day, l.hour, l.minute);
}

std::string local_date(UnixTime t) {
  const LocalTime l = to_local(t);
  return fmt::format("{:04}-{:02}-{:02}", l.year, l.month, l.day);
}

std::string weekdays(unsigned days) {
  static constexpr const char* k_days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  if ((days & 0x7f) == 0x7f) return "every day";
  if ((days & 0x7f) == 0x3e) return "mon-fri";
  if ((days & 0x7f) == 0x41) return "sat-sun";
  std::string out;
  for (int d = 0; d < 7; ++d)
    if (days >> d & 1u) out += (out.empty() ? "" : " ") + std::string(k_days[d]);
  return out;
}

Money money(std::int64_t minor) { return Money::from_minor(minor); }

} // namespace

std::vector<std::string> tariff_in_words(storage::Database& db, const config::Config& cfg, std::int64_t tariff_id,
                                         UnixTime now, std::string* unit) {
  billing::TariffHistory history(billing::tariff_versions(db, tariff_id, cfg.minor_units));
  const billing::StoredVersion* sv = history.in_force(now);
  std::vector<std::string> lines;
  if (!sv) return lines;
  const billing::TariffVersion& v = sv->version;
  if (unit) *unit = v.unit;
  const std::string per = fmt::format("{} per {}", cfg.currency, v.unit);
  switch (v.kind) {
  case billing::TariffKind::flat:
    lines.push_back(fmt::format("One price at all hours: {} {}", v.flat_price.format(), per));
    break;
  case billing::TariffKind::tou:
    for (const char* band : billing::k_bands) {
      auto price = v.bands.find(band);
      if (price == v.bands.end()) continue;
      std::string hours;
      for (const auto& w : v.windows) {
        if (w.band != band) continue;
        hours += fmt::format("{}{}-{} {}", hours.empty() ? "" : ", ", billing::format_minutes(w.from_minute),
                             billing::format_minutes(w.to_minute), weekdays(w.days));
      }
      if (hours.empty()) hours = std::string(band) == "flat" ? "all other hours" : "no hours";
      else if (std::string(band) == "flat") hours += ", and all other hours";
      lines.push_back(fmt::format("{} ({}): {} {}", band, hours, price->second.format(), per));
    }
    break;
  case billing::TariffKind::tiers: {
    std::int64_t from = 0;
    constexpr int decimals = 3; // Wh and litres: thousandths of the unit
    for (const auto& t : v.tiers) {
      if (t.upto)
        lines.push_back(fmt::format("{} to {} {} a month: {} {}", format_decimal(from, decimals),
                                    format_decimal(*t.upto, decimals), v.unit, t.price.format(), per));
      else
        lines.push_back(fmt::format("above {} {} a month: {} {}", format_decimal(from, decimals), v.unit,
                                    t.price.format(), per));
      if (t.upto) from = *t.upto;
    }
    break;
  }
  }
  if (v.standing_period != billing::StandingPeriod::none)
    lines.push_back(fmt::format("Standing charge: {} {} a {}", cfg.currency, v.standing_charge.format(cfg.minor_units),
                                v.standing_period == billing::StandingPeriod::day ? "day" : "month"));
  return lines;
}

TenantView load_tenant_view(storage::Database& db, const config::Config& cfg, std::int64_t account_id, UnixTime now) {
  const billing::Account a = billing::load_account(db, account_id);
  TenantView v;
  v.account = a.name;
  v.holder = a.holder;
  v.currency = cfg.currency;
  v.minor_units = cfg.minor_units;
  v.balance = a.balance;
  v.status = a.status;
  v.alarm1 = a.alarm1;
  v.alarm2 = a.alarm2;
  v.credit_limit = a.credit_limit;
  v.tariff = a.tariff;
  v.now = now;
  v.now_text = local_text(now);
  v.unit = "kWh";
  v.tariff_lines = tariff_in_words(db, cfg, a.tariff_id, now, &v.unit);
  v.emergency_owed = a.emergency_owed;
  if (const auto amount = billing::emergency_amount(cfg, a.emergency_credit);
      !billing::emergency_refusal(cfg, a.status, a.balance, a.emergency_owed, amount))
    v.emergency_offer = amount;
  {
    auto st = db.prepare("SELECT reminder FROM accounts WHERE id = ?1");
    st.bind_all(account_id);
    if (st.step()) v.reminder = st.get_opt_int(0);
  }
  {
    auto st = db.prepare("SELECT m.name, m.kind, m.relay_state, m.relay_reason, m.status FROM assignments s "
                         "JOIN meters m ON m.id = s.meter_id WHERE s.account_id = ?1 AND s.valid_to IS NULL "
                         "ORDER BY m.name");
    st.bind_all(account_id);
    while (st.step())
      v.meters.push_back({st.get_text(0), st.get_text(1), st.get_text(2), st.get_opt_text(3), st.get_text(4)});
  }
  {
    // The last 30 site-local days, today last; days without use are zero.
    const UnixTime today = local_day_start(now);
    const UnixTime first = add_local_days(today, -29);
    std::vector<UnixTime> starts;
    for (int i = 0; i < 30; ++i) starts.push_back(add_local_days(first, i));
    auto st = db.prepare("SELECT day, sum(quantity), sum(cost) FROM daily_usage WHERE account_id = ?1 AND day >= ?2 "
                         "AND day <= ?3 GROUP BY day");
    st.bind_all(account_id, first, today);
    std::map<UnixTime, std::pair<std::int64_t, std::int64_t>> used;
    while (st.step()) used[st.get_int(0)] = {st.get_int(1), st.get_int(2)};
    for (UnixTime d : starts) {
      DayView day;
      day.day = d;
      day.label = local_date(d);
      if (auto it = used.find(d); it != used.end()) day.quantity = it->second.first, day.cost = it->second.second;
      v.days.push_back(std::move(day));
    }
    // The average of the last 7 whole days (today is not over).
    std::int64_t week = 0;
    for (std::size_t i = v.days.size() - 8; i + 1 < v.days.size(); ++i) week += v.days[i].cost;
    v.average_daily_cost = week / 7;
    if (v.average_daily_cost > 0 && a.balance > 0) v.days_left = a.balance / v.average_daily_cost;
  }
  {
    auto st = db.prepare("SELECT receipt, time, kind, amount, method FROM ledger WHERE account_id = ?1 AND kind IN "
                         "('sale', 'refund') AND receipt IS NOT NULL ORDER BY id DESC LIMIT 20");
    st.bind_all(account_id);
    while (st.step()) {
      PurchaseView p;
      p.receipt = st.get_int(0);
      p.time = st.get_int(1);
      p.time_text = local_text(p.time);
      p.kind = st.get_text(2);
      p.amount = std::abs(st.get_int(3));
      p.method = st.get_opt_text(4).value_or("");
      v.purchases.push_back(std::move(p));
    }
  }
  return v;
}

output::Json tenant_json(const TenantView& v) {
  auto m = [&](std::int64_t minor) { return output::Json(money(minor).format(v.minor_units)); };
  auto opt = [&](const std::optional<std::int64_t>& x) { return x ? m(*x) : output::Json(); };
  auto meters = output::Json::array();
  for (const auto& x : v.meters)
    meters.push(output::Json::object()
                    .set("id", x.name)
                    .set("kind", x.kind)
                    .set("relay", x.relay_state)
                    .set("relay_reason", x.relay_reason ? output::Json(*x.relay_reason) : output::Json())
                    .set("status", x.status));
  auto days = output::Json::array();
  for (const auto& d : v.days)
    days.push(output::Json::object().set("day", d.label).set("quantity", d.quantity).set("cost", m(d.cost)));
  auto purchases = output::Json::array();
  for (const auto& p : v.purchases)
    purchases.push(output::Json::object()
                       .set("receipt", p.receipt)
                       .set("time", format_time(p.time))
                       .set("kind", p.kind)
                       .set("amount", m(p.amount))
                       .set("method", p.method));
  auto tariff = output::Json::array();
  for (const auto& line : v.tariff_lines) tariff.push(line);
  return output::Json::object()
      .set("account", v.account)
      .set("name", v.holder)
      .set("currency", v.currency)
      .set("balance", m(v.balance))
      .set("status", v.status)
      .set("alarm1", opt(v.alarm1))
      .set("alarm2", opt(v.alarm2))
      .set("credit_limit", m(v.credit_limit))
      .set("average_daily_cost", m(v.average_daily_cost))
      .set("days_left", v.days_left ? output::Json(*v.days_left) : output::Json())
      .set("unit", v.unit)
      .set("quantity_unit", std::string(v.unit == "kWh" ? "Wh" : "L"))
      .set("meters", meters)
      .set("days", days)
      .set("purchases", purchases)
      .set("tariff", output::Json::object().set("name", v.tariff).set("lines", tariff))
      .set("reminder", opt(v.reminder))
      .set("emergency_offer", opt(v.emergency_offer))
      .set("emergency_owed", money(v.emergency_owed).format(v.minor_units))
      .set("time", format_time(v.now));
}

std::optional<std::string> receipt_text(storage::Database& db, const config::Config& cfg, std::int64_t account_id,
                                        std::int64_t receipt) {
  auto st = db.prepare("SELECT time, kind, amount, balance, method, ref, operator FROM ledger WHERE receipt = ?1 "
                       "AND account_id = ?2 AND kind IN ('sale', 'refund')");
  st.bind_all(receipt, account_id);
  if (!st.step()) return std::nullopt;
  const billing::Account a = billing::load_account(db, account_id);
  billing::PaymentResult p;
  p.receipt = receipt;
  p.time = st.get_int(0);
  p.kind = st.get_text(1) == "refund" ? billing::PaymentKind::refund : billing::PaymentKind::sale;
  p.amount = money(std::abs(st.get_int(2)));
  p.balance = money(st.get_int(3));
  p.method = st.get_opt_text(4).value_or("");
  p.ref = st.get_opt_text(5);
  p.operator_name = st.get_opt_text(6).value_or("");
  p.account = a.name;
  p.holder = a.holder;
  return billing::format_receipt(p, cfg.currency, cfg.minor_units);
}

void take_emergency_credit(storage::Database& db, const config::Config& cfg, std::int64_t account_id, UnixTime now) {
  const billing::Account a = billing::load_account(db, account_id);
  billing::grant_emergency(db, cfg, a.name, "kwh-serve", now, [&] {
    audit::Entry e;
    e.time = now;
    e.operator_name = "kwh-serve";
    e.action = "account credit";
    e.subject = a.name;
    e.detail = "the tenant took the emergency credit offered on the account page";
    audit::append(db, e);
  });
}

void set_reminder(storage::Database& db, const config::Config& cfg, std::int64_t account_id,
                  std::optional<std::int64_t> level, UnixTime now) {
  if (level && *level < 0) fail(Exit::data, "the reminder level must not be negative");
  storage::Transaction tx(db);
  const billing::Account a = billing::load_account(db, account_id);
  db.cached("UPDATE accounts SET reminder = ?1 WHERE id = ?2").bind_all(level, account_id).run();
  audit::Entry e;
  e.time = now;
  e.operator_name = "kwh-serve";
  e.action = "reminder";
  e.subject = a.name;
  e.detail = level ? fmt::format("the tenant set the reminder level to {}", money(*level).format(cfg.minor_units))
                   : std::string("the tenant cleared the reminder level");
  audit::append(db, e);
  tx.commit();
}

} // namespace kwh::web
