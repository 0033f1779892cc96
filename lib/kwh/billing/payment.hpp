#pragma once
// Sales and refunds (`kwh sell`, `kwh refund`, `kwh account close --refund`): money in and out
// of an account, each with a receipt number from the `sequences` table, idempotent by --ref.
//
// --ref: the same key again with the same account, kind, amount and method writes nothing and
// returns the first result with replayed = true; with anything different it is Exit::data and
// nothing is written. Two callers racing with one key: BEGIN IMMEDIATE serialises them and
// UNIQUE(ledger.ref) backs it up; the loser replays.

#include <kwh/config/config.hpp>
#include <kwh/util/money.hpp>
#include <kwh/util/time.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kwh::storage {
class Database;
}

namespace kwh::billing {

// opening: the balance an account brings from before kwh (`kwh account import`), never a sale.
enum class PaymentKind { sale, refund, opening };

struct PaymentRequest {
  std::string account;
  PaymentKind kind = PaymentKind::sale;
  Money amount;                    // > 0
  std::optional<std::string> ref;  // idempotency key
  std::string method = "cash";     // cash | card | transfer | online
  std::string operator_name;
  UnixTime time = 0;
};

struct PaymentResult {
  std::int64_t receipt = 0;
  std::string account;
  std::string holder;
  PaymentKind kind = PaymentKind::sale;
  Money amount;  // positive, as requested (an opening balance: as imported, may be negative)
  Money balance; // after the entry
  std::optional<std::string> ref;
  bool replayed = false;
  UnixTime time = 0;
  std::string method;
  std::string operator_name;
  std::string status;                 // the account's status after it
  std::vector<std::int64_t> commands; // relay commands queued (topup)
  // Of a sale: the emergency credit it repaid first (credit.hpp); balance is after it.
  Money emergency_repaid;
  // Of a sale: what it recovered of the account's debts (debt.hpp), after emergency credit.
  Money debt_recovered;
  // A sale to an account whose meter keeps its own balance ([purchase] in its profile): the
  // set command that writes it to the meter as a purchase, queued for kwhd.
  std::optional<std::int64_t> purchase_command;
};

const char* kind_name(PaymentKind k);

// Posts a sale or refund in its own transaction (BEGIN IMMEDIATE). Errors: Exit::data for an
// amount <= 0, an unknown method, a refund above the balance, a closed account or a --ref
// conflict; Exit::no_input for an unknown account. A sale to an account whose meter keeps its
// own balance queues the purchase for the meter in the same transaction; Exit::data, nothing
// written, when the meter cannot take the amount (more decimals than it has) or when more than
// one of the account's meters keeps a balance (which one the money is for is not known).
// Refunds are not written to meters: a meter's balance only grows by purchases.
// `also`, when given, runs inside the payment's transaction once the entry is written (not on a
// replay), so that what it writes (the CLI's audit entry) commits with the payment, in one fsync.
PaymentResult post_payment(storage::Database& db, const config::Config& config, const PaymentRequest& request,
                           const std::function<void()>& also = {});

// The same inside the caller's transaction (for account close --refund). No --ref handling.
PaymentResult post_payment_in(storage::Database& db, const config::Config& config, const PaymentRequest& request);

// An opening balance (`kwh account import`): what an account brings from before kwh (credit, or
// a debt when negative), as one ledger entry of kind 'opening' at `time`, chained like every
// entry, in the caller's transaction. It is not a sale: no method, no --ref, and the takings of
// `report sales` and `reconcile` do not count it. A receipt number is drawn only when `receipt`
// is set. The account's status follows the new balance (alarm events, and relay commands for a
// debt in arrears, as after a reading). Exit::data for a zero amount or a closed account.
PaymentResult post_opening_in(storage::Database& db, const config::Config& config, const std::string& account,
                              Money amount, const std::string& operator_name, UnixTime time, bool receipt,
                              const std::optional<std::string>& note = {});

// Next value of a named counter (e.g. "receipt"), in the caller's transaction.
std::int64_t next_sequence(storage::Database& db, const std::string& name);

// The operator: $SUDO_USER when set (root through sudo), else the login name.
std::string operator_name();

struct CloseResult {
  std::optional<PaymentResult> refund;
  std::int64_t balance_before = 0;
};

// Closes an account in its own transaction: stored readings are billed already; requires a zero
// balance, or with refund = true writes a refund of a positive balance first. Then status closed,
// assignments ended, event account_closed. Exit::data for a closed account or a balance that
// does not allow it.
CloseResult close_account(storage::Database& db, const config::Config& config, const std::string& account,
                          bool refund, const std::string& operator_name, UnixTime time);

} // namespace kwh::billing
