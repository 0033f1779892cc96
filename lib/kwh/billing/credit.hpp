#pragma once
// Emergency credit: an amount an account may take once its balance is at or below [billing]
// emergency_offer_below, so that a tenant who runs out at night keeps the power on until the
// next top-up (`kwh account credit`, the tenant's page, or kwh itself with [billing]
// emergency_credit_auto).
//
// It is a loan in the ledger: a grant is an entry of kind 'emergency' (+amount), which raises the
// balance, and accounts.emergency_owed says what is owed. While anything is owed the status is
// 'emergency' (unless the account is in arrears), and relays open for arrears as ever, at
// -credit_limit with the grant counted: that is, once the balance the account would have
// without it reaches -(emergency credit + credit limit). The next sale repays it first: an entry
// of kind 'emergency' (-repaid) right after the sale, which the receipt shows. It is never
// granted again while anything is owed. Everything here runs in the caller's transaction,
// except grant_emergency.

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

// The emergency credit an account may take: its own amount, else [billing] emergency_credit.
std::int64_t emergency_amount(const config::Config& config, std::optional<std::int64_t> own);

// Why an account cannot take emergency credit now, or nothing when it can.
std::optional<std::string> emergency_refusal(const config::Config& config, const std::string& status,
                                             std::int64_t balance, std::int64_t owed, std::int64_t amount);

struct Grant {
  std::string account;
  std::string holder;
  Money amount;  // granted
  Money balance; // after it
  std::string status;
  std::vector<std::int64_t> commands; // relays closed again
  UnixTime time = 0;
  bool automatic = false;
  std::int64_t entry = 0; // the ledger entry
};

// Writes a grant of `amount` (entry, emergency_owed, event emergency_credit) without looking at
// the status; update_status() then follows. For update_status's automatic grant and
// grant_emergency_in. Returns the entry's id.
std::int64_t write_grant(storage::Database& db, const config::Config& config, std::int64_t account_id,
                         std::int64_t amount, const std::string& operator_name, UnixTime time, bool automatic);

// Grants an account its emergency credit in the caller's transaction. Exit::data, nothing
// written, with the reason when it cannot take it (closed, none configured, owed already, the
// balance above the offer); Exit::no_input for an unknown account.
Grant grant_emergency_in(storage::Database& db, const config::Config& config, const std::string& account,
                         const std::string& operator_name, UnixTime time);

// The same in its own transaction; `also` runs inside it (the CLI's audit entry).
Grant grant_emergency(storage::Database& db, const config::Config& config, const std::string& account,
                      const std::string& operator_name, UnixTime time, const std::function<void()>& also = {});

// Repays what an account owes of emergency credit, up to `up_to` (after a sale: what was paid),
// as one entry of kind 'emergency' (negative) with the note. Returns the amount repaid (0:
// nothing owed).
std::int64_t repay_emergency(storage::Database& db, std::int64_t account_id, std::int64_t up_to, UnixTime time,
                             const std::string& operator_name, const std::string& note);

} // namespace kwh::billing
