#pragma once
// Accounts: paying customers with a balance, a tariff, alarm levels, a credit limit and the
// meters assigned to them over time (assignments [valid_from, valid_to)). Functions that write
// run in the caller's transaction, except where they say otherwise.

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

struct Account {
  std::int64_t id = 0;
  std::string name;   // the account ID
  std::string holder; // the customer's name
  std::optional<std::string> phone;
  std::optional<std::string> language; // for messages: a tag such as "en" or "zh-Hans"
  std::int64_t tariff_id = 0;
  std::string tariff;
  std::optional<std::int64_t> alarm1, alarm2;
  std::int64_t credit_limit = 0;
  std::int64_t balance = 0;
  std::int64_t carry = 0; // 1e-9 minor units
  std::string status;
  UnixTime opened = 0;
  std::optional<UnixTime> closed;
  std::vector<std::string> meters; // currently assigned meter IDs
  // Emergency credit: the account's own amount (none: [billing] emergency_credit), and what
  // was granted and is not yet repaid (part of balance).
  std::optional<std::int64_t> emergency_credit;
  std::int64_t emergency_owed = 0;
};

struct OpenAccount {
  std::string id;
  std::string holder;
  std::string tariff;
  std::vector<std::string> meters;
  std::optional<Money> alarm1, alarm2;
  Money credit_limit;
  std::optional<std::string> phone;
  std::optional<std::string> language;
  UnixTime opened = 0;
  std::optional<Money> emergency_credit; // none: [billing] emergency_credit
};

// Throws Error(data) unless `tag` looks like a language tag: a 2 or 3 letter language, then
// parts of letters and digits after '-' ("en", "zh-Hans", "pt-BR").
void check_language(const std::string& tag);

// Opens an account (event account_opened). Exit::data for a duplicate ID, a meter already in an
// open account, a meter whose kind does not fit the tariff's unit, or alarm levels in the wrong
// order; Exit::no_input for an unknown tariff or meter.
Account open_account(storage::Database& db, const OpenAccount& request);

// What of an open account `kwh account import --update` changes: the holder, phone, language,
// alarm levels and credit limit, each given whole.
struct AccountDetails {
  std::string holder;
  std::optional<std::string> phone;
  std::optional<std::string> language;
  std::optional<std::int64_t> alarm1, alarm2; // minor units
  std::int64_t credit_limit = 0;
};

// Writes an open account's details with open_account's checks; its status then follows its
// balance under the new levels (events, relay commands for arrears, as after a reading).
// Exit::data for a closed account, an empty holder, alarm2 above alarm1 or a negative credit
// limit; Exit::no_input for an unknown account.
void update_account(storage::Database& db, const config::Config& config, const std::string& account,
                    const AccountDetails& details, UnixTime now);

// Throws Error(no_input) for an unknown account.
Account find_account(storage::Database& db, const std::string& name);
Account load_account(storage::Database& db, std::int64_t id);
// All accounts (or those with one status), by ID.
std::vector<Account> list_accounts(storage::Database& db, const std::optional<std::string>& status = {});

// The row id of a meter in service, by its ID (name): Exit::no_input when unknown, Exit::data
// when it was removed (site::get_meter_in_service).
std::int64_t find_meter_id(storage::Database& db, const std::string& meter);

// Assigns a meter to an open account from `time`. Exit::data when the meter is in an open
// account, has readings after `time`, or does not fit the tariff's unit.
void attach_meter(storage::Database& db, const std::string& account, const std::string& meter, UnixTime time);
// Ends a meter's assignment at `time`: consumption up to then is the account's (it is billed,
// pro rata, with the meter's next reading). Exit::data when time is before its latest reading.
void detach_meter(storage::Database& db, const std::string& account, const std::string& meter, UnixTime time);

// Meter replacement (`kwh meter replace OLD NEW`): the old meter's assignment ends at `time`
// (its stored readings are billed already), the new meter is assigned to the same account from
// `time` (its first reading is its baseline, not charged), the balance stays; event
// meter_replaced; the old meter leaves service (removed at `time`, its pending commands
// cancelled). A meter in no open account is replaced without assignments. Exit::data when
// the new meter is in an open account or is the old one; Exit::no_input for unknown meters.
void replace_meter(storage::Database& db, const std::string& old_meter, const std::string& new_meter, UnixTime time);

} // namespace kwh::billing
