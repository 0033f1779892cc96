#include <kwh/billing/account.hpp>

#include <kwh/billing/status.hpp>
#include <kwh/billing/tariff.hpp>
#include <kwh/ledger/accumulator.hpp>
#include <kwh/readings/store.hpp>
#include <kwh/site/meter.hpp>
#include <kwh/storage/database.hpp>

#include <fmt/format.h>

namespace kwh::billing {

namespace {

constexpr const char* k_select = "SELECT a.id, a.name, a.holder, a.phone, a.tariff_id, t.name, a.alarm1, a.alarm2, "
                                 "a.credit_limit, a.balance, a.carry, a.status, a.opened, a.closed, "
                                 "a.emergency_credit, a.emergency_owed, a.language "
                                 "FROM accounts a JOIN tariffs t ON t.id = a.tariff_id ";

Account read_account(storage::Database& db, storage::Statement& st) {
  Account a;
  a.id = st.get_int(0);
  a.name = st.get_text(1);
  a.holder = st.get_text(2);
  a.phone = st.get_opt_text(3);
  a.tariff_id = st.get_int(4);
  a.tariff = st.get_text(5);
  a.alarm1 = st.get_opt_int(6);
  a.alarm2 = st.get_opt_int(7);
  a.credit_limit = st.get_int(8);
  a.balance = st.get_int(9);
  a.carry = st.get_int(10);
  a.status = st.get_text(11);
  a.opened = st.get_int(12);
  a.closed = st.get_opt_int(13);
  a.emergency_credit = st.get_opt_int(14);
  a.emergency_owed = st.get_int(15);
  a.language = st.get_opt_text(16);
  // Statements kept prepared here and below: `kwh account import` opens thousands of accounts.
  auto& ms = db.cached("SELECT m.name FROM assignments s JOIN meters m ON m.id = s.meter_id "
                       "WHERE s.account_id = ?1 AND s.valid_to IS NULL ORDER BY m.name");
  ms.bind(1, a.id);
  while (ms.step()) a.meters.push_back(ms.get_text(0));
  ms.reset();
  return a;
}

// The unit a tariff is priced in (from its first version).
std::string tariff_unit(storage::Database& db, std::int64_t tariff_id) {
  auto& st = db.cached("SELECT unit FROM tariff_versions WHERE tariff_id = ?1 ORDER BY effective LIMIT 1");
  st.bind(1, tariff_id);
  std::string unit = st.step() ? st.get_text(0) : std::string("kWh");
  st.reset();
  return unit;
}

void check_meter_fits(storage::Database& db, std::int64_t meter_id, const std::string& meter,
                      const std::string& unit, const std::string& tariff) {
  auto& st = db.cached("SELECT kind FROM meters WHERE id = ?1");
  st.bind(1, meter_id);
  st.step();
  std::string kind = st.get_text(0);
  st.reset();
  std::string want = kind == "water" ? "m3" : "kWh";
  if (unit != want)
    fail(Exit::data, "meter {} measures {} but tariff {} is priced per {}", meter, kind, tariff, unit);
}

void check_meter_free(storage::Database& db, std::int64_t meter_id, const std::string& meter) {
  auto& st = db.cached("SELECT a.name FROM assignments s JOIN accounts a ON a.id = s.account_id "
                       "WHERE s.meter_id = ?1 AND s.valid_to IS NULL");
  st.bind(1, meter_id);
  std::optional<std::string> account;
  if (st.step()) account = st.get_text(0);
  st.reset();
  if (account) fail(Exit::data, "meter {} already belongs to open account {}", meter, *account);
}

std::optional<UnixTime> latest_reading(storage::Database& db, std::int64_t meter_id) {
  auto r = readings::latest(db, meter_id);
  return r ? std::optional<UnixTime>(r->t) : std::nullopt;
}

void assign(storage::Database& db, std::int64_t account_id, std::int64_t meter_id, UnixTime from) {
  db.cached("INSERT INTO assignments(account_id, meter_id, valid_from) VALUES (?1, ?2, ?3)")
      .bind_all(account_id, meter_id, from)
      .run();
}

} // namespace

std::int64_t find_meter_id(storage::Database& db, const std::string& meter) {
  return site::get_meter_in_service(db, meter).id;
}

Account load_account(storage::Database& db, std::int64_t id) {
  auto& st = db.cached(std::string(k_select) + "WHERE a.id = ?1");
  st.bind(1, id);
  if (!st.step()) {
    st.reset();
    fail(Exit::no_input, "no such account id {}", id);
  }
  Account a = read_account(db, st);
  st.reset();
  return a;
}

Account find_account(storage::Database& db, const std::string& name) {
  auto& st = db.cached(std::string(k_select) + "WHERE a.name = ?1");
  st.bind(1, name);
  if (!st.step()) {
    st.reset();
    fail(Exit::no_input, "no such account: {}", name);
  }
  Account a = read_account(db, st);
  st.reset();
  return a;
}

std::vector<Account> list_accounts(storage::Database& db, const std::optional<std::string>& status) {
  auto st = db.prepare(std::string(k_select) + "WHERE ?1 IS NULL OR a.status = ?1 ORDER BY a.name");
  st.bind(1, status);
  std::vector<Account> out;
  while (st.step()) out.push_back(read_account(db, st));
  return out;
}

Account open_account(storage::Database& db, const OpenAccount& r) {
  if (r.id.empty()) fail(Exit::usage, "an account needs an ID");
  if (r.holder.empty()) fail(Exit::usage, "account {} needs --name", r.id);
  {
    auto& st = db.cached("SELECT 1 FROM accounts WHERE name = ?1");
    st.bind(1, r.id);
    const bool taken = st.step();
    st.reset();
    if (taken) fail(Exit::data, "account {} already exists", r.id);
  }
  TariffInfo tariff = find_tariff(db, r.tariff);
  if (r.credit_limit.is_negative()) fail(Exit::data, "--credit-limit must not be negative");
  if (r.alarm1 && r.alarm2 && *r.alarm2 > *r.alarm1)
    fail(Exit::data, "--alarm2 ({}) must not be above --alarm1 ({}): alarm2 is the later warning",
         r.alarm2->minor(), r.alarm1->minor());
  std::string unit = tariff_unit(db, tariff.id);
  std::vector<std::int64_t> meter_ids;
  for (const auto& m : r.meters) {
    std::int64_t id = find_meter_id(db, m);
    for (auto other : meter_ids)
      if (other == id) fail(Exit::usage, "meter {} is named twice", m);
    check_meter_free(db, id, m);
    check_meter_fits(db, id, m, unit, tariff.name);
    meter_ids.push_back(id);
  }
  std::optional<std::int64_t> a1, a2;
  if (r.alarm1) a1 = r.alarm1->minor();
  if (r.alarm2) a2 = r.alarm2->minor();
  std::string status = compute_status(0, a1, a2, r.credit_limit.minor());
  if (r.emergency_credit && r.emergency_credit->minor() < 0) fail(Exit::data, "the emergency credit cannot be negative");
  std::optional<std::int64_t> emergency;
  if (r.emergency_credit) emergency = r.emergency_credit->minor();
  if (r.language) check_language(*r.language);
  db.cached("INSERT INTO accounts(name, holder, phone, tariff_id, alarm1, alarm2, credit_limit, status, opened, "
            "emergency_credit, language) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")
      .bind_all(r.id, r.holder, r.phone, tariff.id, a1, a2, r.credit_limit.minor(), status, r.opened, emergency,
                r.language)
      .run();
  std::int64_t account_id = db.last_insert_rowid();
  for (auto id : meter_ids) assign(db, account_id, id, r.opened);
  write_event(db, r.opened, "account_opened", std::nullopt, account_id,
              fmt::format("account {} ({}) on tariff {}", r.id, r.holder, tariff.name));
  return load_account(db, account_id);
}

void check_language(const std::string& tag) {
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  auto alnum = [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); };
  std::size_t i = 0;
  while (i < tag.size() && alpha(tag[i])) ++i;
  bool ok = i >= 2 && i <= 3 && tag.size() <= 35;
  while (ok && i < tag.size()) {
    if (tag[i++] != '-') ok = false;
    std::size_t n = 0;
    while (i < tag.size() && alnum(tag[i])) ++i, ++n;
    if (n < 1 || n > 8) ok = false;
  }
  if (!ok) fail(Exit::data, "'{}' is not a language tag like en, zh or zh-Hans", tag);
}

void update_account(storage::Database& db, const config::Config& config, const std::string& account,
                    const AccountDetails& d, UnixTime now) {
  Account a = find_account(db, account);
  if (a.status == "closed") fail(Exit::data, "account {} is closed", a.name);
  if (d.holder.empty()) fail(Exit::usage, "account {} needs a name", a.name);
  if (d.credit_limit < 0) fail(Exit::data, "the credit limit must not be negative");
  if (d.alarm1 && d.alarm2 && *d.alarm2 > *d.alarm1)
    fail(Exit::data, "alarm2 ({}) must not be above alarm1 ({}): alarm2 is the later warning", *d.alarm2, *d.alarm1);
  if (d.language) check_language(*d.language);
  db.prepare("UPDATE accounts SET holder = ?2, phone = ?3, alarm1 = ?4, alarm2 = ?5, credit_limit = ?6, language = ?7 "
             "WHERE id = ?1")
      .bind_all(a.id, d.holder, d.phone, d.alarm1, d.alarm2, d.credit_limit, d.language)
      .run();
  update_status(db, config, a.id, now, now, false);
}

void attach_meter(storage::Database& db, const std::string& account, const std::string& meter, UnixTime time) {
  Account a = find_account(db, account);
  if (a.status == "closed") fail(Exit::data, "account {} is closed", account);
  std::int64_t meter_id = find_meter_id(db, meter);
  check_meter_free(db, meter_id, meter);
  check_meter_fits(db, meter_id, meter, tariff_unit(db, a.tariff_id), a.tariff);
  if (auto latest = latest_reading(db, meter_id); latest && *latest > time)
    fail(Exit::data, "meter {} has readings up to {}, after {}: attach it from then or later", meter,
         format_time(*latest), format_time(time));
  assign(db, a.id, meter_id, time);
}

void detach_meter(storage::Database& db, const std::string& account, const std::string& meter, UnixTime time) {
  Account a = find_account(db, account);
  std::int64_t meter_id = find_meter_id(db, meter);
  auto st = db.prepare("SELECT id, valid_from FROM assignments WHERE account_id = ?1 AND meter_id = ?2 AND "
                       "valid_to IS NULL");
  st.bind_all(a.id, meter_id);
  if (!st.step()) fail(Exit::data, "meter {} is not attached to account {}", meter, account);
  std::int64_t assignment = st.get_int(0);
  if (time < st.get_int(1)) fail(Exit::data, "meter {} was attached after {}", meter, format_time(time));
  if (auto latest = latest_reading(db, meter_id); latest && *latest > time)
    fail(Exit::data, "meter {} has readings up to {}, after {}: detach it then or later", meter,
         format_time(*latest), format_time(time));
  db.prepare("UPDATE assignments SET valid_to = ?2 WHERE id = ?1").bind_all(assignment, time).run();
  // The meter's charges to the account so far this day become its ledger entries now.
  ledger::post_open(db, a.id, meter_id);
}

void replace_meter(storage::Database& db, const std::string& old_meter, const std::string& new_meter, UnixTime time) {
  // The old meter may already be out of service: `kwh meter replace` frees its bus address
  // first when the new meter takes over the same unit.
  auto old_st = db.prepare("SELECT id FROM meters WHERE name = ?1");
  old_st.bind(1, old_meter);
  if (!old_st.step()) fail(Exit::no_input, "no such meter: {}", old_meter);
  std::int64_t old_id = old_st.get_int(0);
  std::int64_t new_id = find_meter_id(db, new_meter);
  if (old_id == new_id) fail(Exit::data, "meter {} cannot replace itself", old_meter);
  check_meter_free(db, new_id, new_meter);
  std::optional<std::int64_t> account_id;
  auto st = db.prepare("SELECT id, account_id, valid_from FROM assignments WHERE meter_id = ?1 AND valid_to IS NULL");
  st.bind(1, old_id);
  if (st.step()) {
    account_id = st.get_int(1);
    Account a = load_account(db, *account_id);
    check_meter_fits(db, new_id, new_meter, tariff_unit(db, a.tariff_id), a.tariff);
    UnixTime end = std::max(time, st.get_int(2));
    // The old meter's stored readings were billed as they arrived; any reading after `end`
    // would belong to nobody, so the assignment ends no earlier than its latest reading.
    if (auto latest = latest_reading(db, old_id); latest && *latest > end) end = *latest;
    db.prepare("UPDATE assignments SET valid_to = ?2 WHERE id = ?1").bind_all(st.get_int(0), end).run();
    assign(db, *account_id, new_id, std::max(time, end));
    ledger::post_open(db, *account_id, old_id);
  }
  // The swapped-out meter leaves service; what was still queued for it is moot.
  db.prepare("UPDATE meters SET removed = ?2 WHERE id = ?1 AND removed IS NULL").bind_all(old_id, time).run();
  db.prepare("UPDATE commands SET state = 'cancelled', finished = ?2 WHERE meter_id = ?1 AND state = 'pending'")
      .bind_all(old_id, time)
      .run();
  write_event(db, time, "meter_replaced", old_id, account_id, fmt::format("meter {} replaced by {}", old_meter, new_meter));
}

} // namespace kwh::billing
