#include <kwh/billing/payment.hpp>

#include <kwh/billing/account.hpp>
#include <kwh/billing/credit.hpp>
#include <kwh/billing/debt.hpp>
#include <kwh/billing/status.hpp>
#include <kwh/ledger/accumulator.hpp>
#include <kwh/ledger/ledger.hpp>
#include <kwh/site/command.hpp>
#include <kwh/site/issue.hpp>
#include <kwh/site/live.hpp>
#include <kwh/site/meter.hpp>
#include <kwh/storage/database.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <pwd.h>
#include <unistd.h>

namespace kwh::billing {

const char* kind_name(PaymentKind k) {
  switch (k) {
  case PaymentKind::sale: return "sale";
  case PaymentKind::refund: return "refund";
  case PaymentKind::opening: return "opening";
  }
  return "sale";
}

std::int64_t next_sequence(storage::Database& db, const std::string& name) {
  auto st = db.prepare("INSERT INTO sequences(name, value) VALUES (?1, 1) "
                       "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value");
  st.bind(1, name);
  st.step();
  std::int64_t v = st.get_int(0);
  st.reset();
  return v;
}

std::string operator_name() {
  if (const char* s = std::getenv("SUDO_USER"); s && *s) return s;
  if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name) return pw->pw_name;
  if (const char* s = std::getenv("USER"); s && *s) return s;
  return fmt::format("uid{}", ::geteuid());
}

namespace {

void check_request(const PaymentRequest& r) {
  if (r.kind == PaymentKind::opening) fail(Exit::data, "an opening balance is not a payment (kwh account import)");
  if (r.amount.minor() <= 0) fail(Exit::data, "the amount must be more than zero");
  if (r.method != "cash" && r.method != "card" && r.method != "transfer" && r.method != "online")
    fail(Exit::data, "--method must be cash, card, transfer or online, not '{}'", r.method);
  if (r.ref && r.ref->empty()) fail(Exit::data, "--ref must not be empty");
}

// The first result of a --ref, or a conflict.
PaymentResult replay(storage::Database& db, const config::Config& config, const ledger::Entry& e,
                     const PaymentRequest& r) {
  Account a = load_account(db, e.account_id);
  std::int64_t amount = e.kind == "refund" ? -e.amount : e.amount;
  if (a.name != r.account || e.kind != kind_name(r.kind) || amount != r.amount.minor() ||
      e.method.value_or("") != r.method)
    fail(Exit::data, "--ref {} was used for {} {} {} on account {}; this request differs, nothing written", *r.ref,
         e.kind, Money::from_minor(amount).format(config.minor_units), e.method.value_or(""), a.name);
  PaymentResult res;
  res.receipt = e.receipt.value_or(0);
  res.account = a.name;
  res.holder = a.holder;
  res.kind = r.kind;
  res.amount = Money::from_minor(amount);
  res.balance = Money::from_minor(e.balance);
  // What the sale repaid: the entries it wrote right after itself (its transaction held the
  // ledger's write lock, so they follow it in id order).
  {
    // Only the entries right after it, each ending with its receipt: a later sale in the same
    // second, or a receipt number that merely begins with this one, is not this sale's.
    auto& next = db.cached("SELECT kind, amount, balance, note, account_id FROM ledger WHERE id > ?1 ORDER BY id "
                           "LIMIT 64");
    next.bind(1, e.id);
    const std::string mark = fmt::format("from receipt {}", e.receipt.value_or(0));
    while (next.step()) {
      const auto note = next.get_opt_text(3).value_or("");
      const auto kind = next.get_text(0);
      if (next.get_int(4) != e.account_id || (kind != "emergency" && kind != "debt") || next.get_int(1) >= 0 ||
          !std::string_view(note).ends_with(mark))
        break;
      if (kind == "emergency") res.emergency_repaid = Money::from_minor(-next.get_int(1));
      else res.debt_recovered = Money::from_minor(res.debt_recovered.minor() - next.get_int(1));
      res.balance = Money::from_minor(next.get_int(2));
    }
    next.reset();
  }
  res.ref = e.ref;
  res.replayed = true;
  res.time = e.time;
  res.method = e.method.value_or("");
  res.operator_name = e.operator_name.value_or("");
  res.status = a.status;
  return res;
}

} // namespace

namespace {

// The purchase a sale writes to the account's meter that keeps its own balance, if it has one.
std::optional<std::int64_t> queue_purchase(storage::Database& db, const config::Config& config, const Account& a,
                                           const PaymentRequest& r, std::int64_t receipt) {
  std::optional<std::pair<site::Meter, modbus::PurchaseSpec>> target;
  for (const auto& name : a.meters) {
    auto m = site::get_meter(db, name);
    std::optional<modbus::Profile> profile;
    try {
      profile = site::meter_profile(db, m, config.profiles);
    } catch (const Error&) {
      continue; // a meter whose profile is gone is read by no one either
    }
    if (!profile->purchase) continue;
    if (target)
      fail(Exit::data, "account {} has more than one meter that keeps its own balance ({} and {}); the sale would not "
                       "know which to write to",
           a.name, target->first.name, m.name);
    target.emplace(m, *profile->purchase);
  }
  if (!target) return std::nullopt;
  const auto& [meter, spec] = *target;
  std::optional<std::int64_t> reported;
  if (auto stored = site::stored_values(db, meter.id))
    if (const auto* v = stored->find("purchase_count"); v && v->integer) reported = *v->integer;
  auto write = site::purchase_write(spec, r.amount.minor(), config.minor_units,
                                    site::next_purchase_number(db, meter.id, reported));
  if (!write) fail(Exit::data, "meter {} keeps its own balance, and {}; nothing written", meter.name, write.error().what());
  write->what = fmt::format("purchase receipt {}", receipt);
  return site::queue_command(db, site::NewCommand{.meter_id = meter.id, .action = "set",
                                                  .argument = site::write_argument(*write), .reason = "sale",
                                                  .operator_name = r.operator_name});
}

} // namespace

PaymentResult post_payment_in(storage::Database& db, const config::Config& config, const PaymentRequest& r) {
  check_request(r);
  Account a = find_account(db, r.account);
  if (a.status == "closed") fail(Exit::data, "account {} is closed", a.name);
  // Emergency credit owed is in the balance, but it is not the tenant's to take out.
  if (r.kind == PaymentKind::refund && r.amount.minor() > a.balance - a.emergency_owed)
    fail(Exit::data, "a refund of {} is more than account {}'s balance of {}{}", r.amount.format(config.minor_units),
         a.name, Money::from_minor(a.balance - a.emergency_owed).format(config.minor_units),
         a.emergency_owed ? fmt::format(" without the {} of emergency credit it owes",
                                        Money::from_minor(a.emergency_owed).format(config.minor_units))
                          : std::string());
  ledger::Entry e;
  e.account_id = a.id;
  e.time = r.time;
  e.kind = kind_name(r.kind);
  e.amount = r.kind == PaymentKind::sale ? r.amount.minor() : -r.amount.minor();
  e.receipt = next_sequence(db, "receipt");
  e.method = r.method;
  e.ref = r.ref;
  e.operator_name = r.operator_name;
  e = ledger::append(db, std::move(e));
  PaymentResult res;
  std::int64_t balance = e.balance;
  if (r.kind == PaymentKind::sale && a.emergency_owed > 0) {
    // Emergency credit is repaid first.
    res.emergency_repaid = Money::from_minor(repay_emergency(db, a.id, r.amount.minor(), r.time, r.operator_name,
                                                             fmt::format("emergency credit repaid from receipt {}",
                                                                         *e.receipt)));
    balance -= res.emergency_repaid.minor();
  }
  if (r.kind == PaymentKind::sale) {
    // Then the debts that take a share of each sale.
    res.debt_recovered = Money::from_minor(recover_from_sale(db, config, a.id, r.amount.minor(),
                                                             res.emergency_repaid.minor(), r.time, r.operator_name,
                                                             *e.receipt));
    balance -= res.debt_recovered.minor();
  }
  auto change = update_status(db, config, a.id, r.time, r.time, r.kind == PaymentKind::sale);
  if (r.kind == PaymentKind::sale) res.purchase_command = queue_purchase(db, config, a, r, *e.receipt);
  res.receipt = *e.receipt;
  res.account = a.name;
  res.holder = a.holder;
  res.kind = r.kind;
  res.amount = r.amount;
  res.balance = Money::from_minor(balance);
  res.ref = r.ref;
  res.time = r.time;
  res.method = r.method;
  res.operator_name = r.operator_name;
  res.status = change.after;
  res.commands = change.commands;
  return res;
}

PaymentResult post_payment(storage::Database& db, const config::Config& config, const PaymentRequest& r,
                           const std::function<void()>& also) {
  check_request(r);
  for (int attempt = 0;; ++attempt) {
    try {
      storage::Transaction tx(db);
      if (r.ref) {
        if (auto first = ledger::find_by_ref(db, *r.ref)) return replay(db, config, *first, r);
      }
      PaymentResult res = post_payment_in(db, config, r);
      if (also) also();
      tx.commit();
      return res;
    } catch (const Error& e) {
      // Another writer took the key between our look-up and insert: replay its result.
      if (attempt == 0 && r.ref && e.code() == Exit::data && std::string(e.what()).find("UNIQUE") != std::string::npos)
        continue;
      throw;
    }
  }
}

PaymentResult post_opening_in(storage::Database& db, const config::Config& config, const std::string& account,
                              Money amount, const std::string& op, UnixTime time, bool receipt,
                              const std::optional<std::string>& note) {
  if (amount.is_zero()) fail(Exit::data, "an opening balance of zero is no entry");
  Account a = find_account(db, account);
  if (a.status == "closed") fail(Exit::data, "account {} is closed", a.name);
  ledger::Entry e;
  e.account_id = a.id;
  e.time = time;
  e.kind = kind_name(PaymentKind::opening);
  e.amount = amount.minor();
  if (receipt) e.receipt = next_sequence(db, "receipt");
  e.operator_name = op;
  e.note = note;
  e = ledger::append(db, std::move(e));
  // Events at the entry's time; commands (arrears) from now, even for an account opened earlier.
  auto change = update_status(db, config, a.id, time, std::max(time, now()), amount.minor() > 0);
  PaymentResult res;
  res.receipt = e.receipt.value_or(0);
  res.account = a.name;
  res.holder = a.holder;
  res.kind = PaymentKind::opening;
  res.amount = amount;
  res.balance = Money::from_minor(e.balance);
  res.time = time;
  res.operator_name = op;
  res.status = change.after;
  res.commands = change.commands;
  return res;
}

CloseResult close_account(storage::Database& db, const config::Config& config, const std::string& account,
                          bool refund, const std::string& op, UnixTime time) {
  storage::Transaction tx(db);
  Account a = find_account(db, account);
  if (a.status == "closed") fail(Exit::data, "account {} is closed already", a.name);
  // What its meters used so far today becomes ledger entries: a closed account has nothing open.
  ledger::post_open(db, a.id, std::nullopt);
  CloseResult res;
  res.balance_before = a.balance;
  if (a.emergency_owed > 0) {
    // Emergency credit owed is repaid from the balance first; what it lacks is owed like any debt.
    if (a.balance < a.emergency_owed)
      fail(Exit::data, "account {} owes {} (emergency credit not repaid); sell that much before closing it", a.name,
           Money::from_minor(a.emergency_owed - a.balance).format(config.minor_units));
    repay_emergency(db, a.id, a.emergency_owed, time, op, "emergency credit repaid at closing");
    a = find_account(db, account);
  }
  if (a.balance < 0)
    fail(Exit::data, "account {} owes {}; sell that much before closing it", a.name,
         Money::from_minor(-a.balance).format(config.minor_units));
  if (a.balance > 0) {
    if (!refund)
      fail(Exit::data, "account {} has a balance of {}; close it with --refund to pay it out", a.name,
           Money::from_minor(a.balance).format(config.minor_units));
    PaymentRequest r;
    r.account = a.name;
    r.kind = PaymentKind::refund;
    r.amount = Money::from_minor(a.balance);
    r.operator_name = op;
    r.time = time;
    res.refund = post_payment_in(db, config, r);
  }
  db.prepare("UPDATE assignments SET valid_to = max(valid_from, ?2) WHERE account_id = ?1 AND valid_to IS NULL")
      .bind_all(a.id, time)
      .run();
  db.prepare("UPDATE accounts SET status = 'closed', closed = ?2 WHERE id = ?1").bind_all(a.id, time).run();
  db.prepare("UPDATE events SET ended = ?2 WHERE account_id = ?1 AND ended IS NULL AND kind IN ('alarm1', 'alarm2', "
             "'arrears')")
      .bind_all(a.id, time)
      .run();
  write_event(db, time, "account_closed", std::nullopt, a.id, fmt::format("account {} closed by {}", a.name, op));
  tx.commit();
  return res;
}

} // namespace kwh::billing
