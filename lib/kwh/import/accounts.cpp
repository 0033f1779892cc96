// kwh account import: a row per account, its columns the options of `account open` (meters
// separated by ';'), and its opening balance: a ledger entry of kind 'opening', never a sale.

#include <kwh/import/detail.hpp>

#include <kwh/billing/account.hpp>
#include <kwh/billing/payment.hpp>
#include <kwh/storage/database.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace kwh::import::detail {

namespace {

enum Col {
  c_id,
  c_name,
  c_tariff,
  c_meters,
  c_alarm1,
  c_alarm2,
  c_credit_limit,
  c_phone,
  c_opened,
  c_opening_balance,
  c_status,
  c_balance,
  c_emergency_owed,
  c_language,
};

// Meter IDs separated by ';' (the sheet's way), or by blanks (as account list prints them).
std::vector<std::string> meter_list(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) out.push_back(std::move(cur));
    cur.clear();
  };
  for (char c : text) {
    if (c == ';' || c == ' ' || c == '\t' || c == '\n' || c == '\r') flush();
    else cur += c;
  }
  flush();
  return out;
}

std::optional<std::int64_t> opt_money(const Row& row, int col, const char* what, int mu) {
  auto t = row.text(col);
  if (!t) return std::nullopt;
  return money(*t, what, mu, true).minor();
}

std::string money_text(const std::optional<std::int64_t>& v, int mu) {
  return v ? Money::from_minor(*v).format(mu) : std::string("(none)");
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ";") + x;
  return s.empty() ? std::string("(none)") : s;
}

std::optional<billing::Account> find(storage::Database& db, const std::string& id) {
  auto& st = db.cached("SELECT id FROM accounts WHERE name = ?1");
  st.bind(1, id);
  std::optional<std::int64_t> row;
  if (st.step()) row = st.get_int(0);
  st.reset();
  if (!row) return std::nullopt;
  return billing::load_account(db, *row);
}

// The sum of the account's opening entries: through the account's entries (+kind keeps SQLite
// from walking every opening entry of the site by the (kind, time) index, row after row).
std::int64_t opening_of(storage::Database& db, std::int64_t account_id) {
  auto& st = db.cached("SELECT coalesce(sum(amount), 0) FROM ledger WHERE account_id = ?1 AND +kind = 'opening'");
  st.bind(1, account_id);
  st.step();
  const std::int64_t v = st.get_int(0);
  st.reset();
  return v;
}

void post_opening(Job& job, const std::string& id, std::int64_t amount, UnixTime time) {
  job.result.openings.push_back(billing::post_opening_in(job.db, job.config, id, Money::from_minor(amount),
                                                         job.options.operator_name, time, job.options.receipts,
                                                         "opening balance (kwh account import)"));
}

void add(Job& job, const Row& row, const std::string& id, std::optional<UnixTime> opened,
         std::optional<std::int64_t> opening) {
  const int mu = job.config.minor_units;
  auto name = row.text(c_name);
  auto tariff = row.text(c_tariff);
  if (!name || !tariff) fail(Exit::data, "a new account needs {}", !name ? "its name (the customer's)" : "its tariff");
  billing::OpenAccount r;
  r.id = id;
  r.holder = *name;
  r.tariff = *tariff;
  if (auto m = row.text(c_meters)) r.meters = meter_list(*m);
  if (auto a = opt_money(row, c_alarm1, "alarm1", mu)) r.alarm1 = Money::from_minor(*a);
  if (auto a = opt_money(row, c_alarm2, "alarm2", mu)) r.alarm2 = Money::from_minor(*a);
  if (auto c = row.text(c_credit_limit)) r.credit_limit = money(*c, "credit_limit", mu, false);
  r.phone = row.text(c_phone);
  r.language = row.text(c_language);
  r.opened = opened.value_or(job.now);
  const billing::Account a = billing::open_account(job.db, r);
  std::string detail = fmt::format("tariff {}, {} meter{}", a.tariff, a.meters.size(), a.meters.size() == 1 ? "" : "s");
  if (opening && *opening != 0) {
    post_opening(job, id, *opening, r.opened);
    detail += fmt::format(", opening balance {}", Money::from_minor(*opening).format(mu));
  }
  job.done(row.line(), id, Action::add, detail);
}

void update(Job& job, const Row& row, const billing::Account& a, std::optional<UnixTime> opened,
            std::optional<std::int64_t> opening) {
  const int mu = job.config.minor_units;
  if (a.status == "closed")
    fail(Exit::data, "account {} was closed on {}; its ID stays with its history, choose another", a.name,
         format_time(a.closed.value_or(0)));
  // What no command changes: they are errors with --update too.
  if (auto t = row.text(c_tariff); t && *t != a.tariff)
    fail(Exit::data, "account {} is on tariff {}, not {}; an account does not move to another tariff", a.name, a.tariff, *t);
  if (opened && *opened != a.opened)
    fail(Exit::data, "account {} was opened at {}, not {}; when an account opened does not change", a.name,
         format_time(a.opened), format_time(*opened));
  if (row.has(c_opening_balance)) {
    const std::int64_t want = opening.value_or(0), stored = opening_of(job.db, a.id);
    if (want != stored)
      fail(Exit::data, "account {} has an opening balance of {}, not {}; it is posted once (correct it with kwh sell or "
                       "kwh refund)",
           a.name, Money::from_minor(stored).format(mu), Money::from_minor(want).format(mu));
  }

  std::vector<std::string> changes;
  billing::AccountDetails d{a.holder, a.phone, a.language, a.alarm1, a.alarm2, a.credit_limit};
  if (auto n = row.text(c_name); n && *n != a.holder) {
    changes.push_back(fmt::format("name {} -> {}", a.holder, *n));
    d.holder = *n;
  }
  if (row.has(c_phone) && row.text(c_phone) != a.phone) {
    changes.push_back(fmt::format("phone {} -> {}", shown(a.phone), shown(row.text(c_phone))));
    d.phone = row.text(c_phone);
  }
  if (row.has(c_language) && row.text(c_language) != a.language) {
    changes.push_back(fmt::format("language {} -> {}", shown(a.language), shown(row.text(c_language))));
    d.language = row.text(c_language);
  }
  for (const auto& [col, what, stored, to] :
       {std::tuple{c_alarm1, "alarm1", a.alarm1, &d.alarm1}, std::tuple{c_alarm2, "alarm2", a.alarm2, &d.alarm2}}) {
    if (!row.has(col)) continue;
    auto v = opt_money(row, col, what, mu);
    if (v == stored) continue;
    changes.push_back(fmt::format("{} {} -> {}", what, money_text(stored, mu), money_text(v, mu)));
    *to = v;
  }
  if (row.has(c_credit_limit)) {
    auto t = row.text(c_credit_limit);
    const std::int64_t v = t ? money(*t, "credit_limit", mu, false).minor() : 0;
    if (v != a.credit_limit) {
      changes.push_back(fmt::format("credit_limit {} -> {}", money_text(a.credit_limit, mu), money_text(v, mu)));
      d.credit_limit = v;
    }
  }
  const bool details = !changes.empty();
  std::vector<std::string> attach, detach;
  if (row.has(c_meters)) {
    auto want = meter_list(row.text(c_meters).value_or(""));
    std::vector<std::string> sorted_want = want;
    std::sort(sorted_want.begin(), sorted_want.end());
    sorted_want.erase(std::unique(sorted_want.begin(), sorted_want.end()), sorted_want.end());
    if (sorted_want.size() != want.size()) fail(Exit::data, "a meter is named twice in meters '{}'", *row.text(c_meters));
    for (const auto& m : want)
      if (std::find(a.meters.begin(), a.meters.end(), m) == a.meters.end()) attach.push_back(m);
    for (const auto& m : a.meters)
      if (!std::binary_search(sorted_want.begin(), sorted_want.end(), m)) detach.push_back(m);
    if (!attach.empty() || !detach.empty()) changes.push_back(fmt::format("meters {} -> {}", join(a.meters), join(want)));
  }
  job.changed(row.line(), "account", a.name, changes, [&] {
    if (details) billing::update_account(job.db, job.config, a.name, d, job.now);
    // Meters leave first, so that one moving from an account on an earlier row is free.
    for (const auto& m : detach) billing::detach_meter(job.db, a.name, m, job.now);
    for (const auto& m : attach) billing::attach_meter(job.db, a.name, m, job.now);
  });
}

} // namespace

const std::vector<ColumnSpec>& account_columns() {
  static const std::vector<ColumnSpec> k = {
      {"id", "account"}, {"name"},  {"tariff"}, {"meters", "meter"}, {"alarm1"},           {"alarm2"},
      {"credit_limit"},  {"phone"}, {"opened"}, {"opening_balance"}, {"status", "", true}, {"balance", "", true},
      {"emergency_owed", "", true}, {"language"},
  };
  return k;
}

void import_accounts(Job& job, const Header& header, const std::vector<CsvRecord>& records) {
  const int mu = job.config.minor_units;
  for_each_row(job, Kind::accounts, header, records, [&](const Row& row, const std::string& id) {
    if (row.text(c_status) == std::optional<std::string>("closed")) {
      job.done(row.line(), id, Action::skip, "closed (as account list prints it): not imported");
      return;
    }
    std::optional<UnixTime> opened;
    if (auto t = row.text(c_opened)) {
      auto v = parse_time(*t);
      if (!v) fail(Exit::data, "opened '{}': {}", *t, v.error().what());
      opened = *v;
    }
    const auto opening = opt_money(row, c_opening_balance, "opening_balance", mu);
    if (auto a = find(job.db, id)) update(job, row, *a, opened, opening);
    else add(job, row, id, opened, opening);
  });
}

} // namespace kwh::import::detail
