#include <kwh/billing/credit.hpp>

#include <kwh/billing/account.hpp>
#include <kwh/billing/status.hpp>
#include <kwh/ledger/ledger.hpp>
#include <kwh/storage/database.hpp>

#include <fmt/format.h>

namespace kwh::billing {

std::int64_t emergency_amount(const config::Config& config, std::optional<std::int64_t> own) {
  return own.value_or(config.billing.emergency_credit.minor());
}

std::optional<std::string> emergency_refusal(const config::Config& config, const std::string& status,
                                             std::int64_t balance, std::int64_t owed, std::int64_t amount) {
  const int mu = config.minor_units;
  if (status == "closed") return std::string("the account is closed");
  if (amount <= 0) return std::string("it has no emergency credit ([billing] emergency_credit is 0)");
  if (owed > 0)
    return fmt::format("it owes {} of emergency credit already, repaid from its next top-up",
                       Money::from_minor(owed).format(mu));
  if (balance > config.billing.emergency_offer_below.minor())
    return fmt::format("its balance of {} is above {}, where emergency credit is offered",
                       Money::from_minor(balance).format(mu), config.billing.emergency_offer_below.format(mu));
  return std::nullopt;
}

std::int64_t write_grant(storage::Database& db, const config::Config& config, std::int64_t account_id,
                         std::int64_t amount, const std::string& operator_name, UnixTime time, bool automatic) {
  ledger::Entry e;
  e.account_id = account_id;
  e.time = time;
  e.kind = "emergency";
  e.amount = amount;
  e.operator_name = operator_name;
  e.note = automatic ? "emergency credit granted automatically" : "emergency credit granted";
  e = ledger::append(db, std::move(e));
  auto& owe = db.cached("UPDATE accounts SET emergency_owed = emergency_owed + ?2 WHERE id = ?1 RETURNING name");
  owe.bind_all(account_id, amount);
  owe.step();
  const std::string name = owe.get_text(0);
  owe.reset();
  write_event(db, time, "emergency_credit", std::nullopt, account_id,
              fmt::format("account {} took emergency credit of {}; balance {}", name,
                          Money::from_minor(amount).format(config.minor_units),
                          Money::from_minor(e.balance).format(config.minor_units)));
  return e.id;
}

Grant grant_emergency_in(storage::Database& db, const config::Config& config, const std::string& account,
                         const std::string& operator_name, UnixTime time) {
  Account a = find_account(db, account);
  const std::int64_t amount = emergency_amount(config, a.emergency_credit);
  if (auto why = emergency_refusal(config, a.status, a.balance, a.emergency_owed, amount))
    fail(Exit::data, "account {} cannot take emergency credit: {}", a.name, *why);
  Grant g;
  g.entry = write_grant(db, config, a.id, amount, operator_name, time, false);
  auto change = update_status(db, config, a.id, time, std::max(time, now()), false, true);
  Account after = load_account(db, a.id);
  g.account = a.name;
  g.holder = a.holder;
  g.amount = Money::from_minor(amount);
  g.balance = Money::from_minor(after.balance);
  g.status = change.after;
  g.commands = change.commands;
  g.time = time;
  return g;
}

Grant grant_emergency(storage::Database& db, const config::Config& config, const std::string& account,
                      const std::string& operator_name, UnixTime time, const std::function<void()>& also) {
  storage::Transaction tx(db);
  Grant g = grant_emergency_in(db, config, account, operator_name, time);
  if (also) also();
  tx.commit();
  return g;
}

std::int64_t repay_emergency(storage::Database& db, std::int64_t account_id, std::int64_t up_to, UnixTime time,
                             const std::string& operator_name, const std::string& note) {
  auto& st = db.cached("SELECT emergency_owed FROM accounts WHERE id = ?1");
  st.bind(1, account_id);
  const std::int64_t owed = st.step() ? st.get_int(0) : 0;
  st.reset();
  const std::int64_t repaid = std::min(owed, up_to);
  if (repaid <= 0) return 0;
  ledger::Entry e;
  e.account_id = account_id;
  e.time = time;
  e.kind = "emergency";
  e.amount = -repaid;
  e.operator_name = operator_name;
  e.note = note;
  ledger::append(db, std::move(e));
  auto& owe = db.cached("UPDATE accounts SET emergency_owed = emergency_owed - ?2 WHERE id = ?1");
  owe.bind_all(account_id, repaid);
  owe.run();
  return repaid;
}

} // namespace kwh::billing
