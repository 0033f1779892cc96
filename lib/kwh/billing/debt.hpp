#pragma once
// Debts: money an account owes apart from its balance (arrears from before the meters went in,
// a damaged meter), recorded with `kwh account debt ACCOUNT add` and recovered over time:
//   - a share of every sale (--recover 25%), after any emergency credit is repaid;
//   - and/or a fixed amount every week or month while the account is open (--fixed, --every),
//     charged by kwhd with the standing charges.
// Recovery from a sale is capped so that it always buys energy: the debts of one sale take at
// most (100 - [billing] debt_min_energy_share) % of what is left of it after emergency credit.
// Every recovery is a ledger entry of kind 'debt' (negative) naming the debt (ledger.debt_id);
// debts.remaining is amount less the recoveries, which verify_debts() proves. Recording a debt
// writes no ledger entry: it does not move the balance. Everything here runs in the caller's
// transaction.

#include <kwh/config/config.hpp>
#include <kwh/util/money.hpp>
#include <kwh/util/time.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kwh::storage {
class Database;
}

namespace kwh::billing {

enum class DebtPeriod { none, week, month };

struct NewDebt {
  std::string account;
  Money amount; // > 0
  std::string note;
  std::optional<int> share; // percent of each sale, 1 .. 100
  std::optional<Money> fixed;
  DebtPeriod period = DebtPeriod::none; // with fixed
  std::string operator_name;
  UnixTime time = 0;
};

struct Debt {
  std::int64_t id = 0;
  std::string account;
  UnixTime created = 0;
  std::int64_t amount = 0, remaining = 0;
  std::string note;
  std::optional<int> share;
  std::optional<std::int64_t> fixed;
  DebtPeriod period = DebtPeriod::none;
  std::optional<UnixTime> next_due;
  std::string operator_name;
};

const char* period_name(DebtPeriod p);

// Records a debt. Exit::data for a closed account, an amount <= 0, an empty note, a share outside
// 1 .. 100, a fixed amount without a period (or the other way round), or neither a share nor a
// fixed amount; Exit::no_input for an unknown account. The first fixed recovery falls due a week
// after `time`, or on the first of the next month. Event debt_added.
Debt add_debt(storage::Database& db, const config::Config& config, const NewDebt& request);

// An account's debts (all, or those not yet recovered), oldest first; every account's when
// `account` is empty.
std::vector<Debt> list_debts(storage::Database& db, const std::string& account, bool open_only);

// After a sale of `paid`, of which `emergency_repaid` went to emergency credit: recovers the
// account's debts with a share, oldest first, within the cap. Returns the amount recovered.
std::int64_t recover_from_sale(storage::Database& db, const config::Config& config, std::int64_t account_id,
                               std::int64_t paid, std::int64_t emergency_repaid, UnixTime time,
                               const std::string& operator_name, std::int64_t receipt);

// Charges the fixed recoveries that fell due up to `until` (kwhd, with the standing charges), each
// at its due time; the accounts' status follows. Returns the total recovered.
std::int64_t charge_debts_due(storage::Database& db, const config::Config& config, UnixTime until);

// One line per finding, empty when clean: a debt whose remaining is not its amount less its
// recoveries in the ledger, or a recovery of more than was owed.
std::vector<std::string> verify_debts(storage::Database& db);

} // namespace kwh::billing
