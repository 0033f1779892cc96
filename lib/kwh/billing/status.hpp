#pragma once
// Account status, balance alarms and the relay commands that follow from them
// (docs/contract.md "Billing"). Everything here runs in the caller's transaction.
//
// Status from worst: arrears (balance <= -credit_limit), emergency (emergency credit owed,
// credit.hpp), alarm2 (balance <= alarm2), alarm1 (balance <= alarm1), ok; closed once closed. Each level crossed downward writes one event
// (kind alarm1, alarm2 or arrears), however many readings it took; going back up ends the
// events of the levels left (events.ended).
//
// Relays (meters.relay_mode auto only): while an account is in arrears, each of its meters
// whose relay kwh has not already opened for arrears gets one relay_off command (reason
// 'arrears'), postponed to the end of the friendly hours/days when inside them, and
// meters.relay_reason = 'arrears'. When a balance leaves arrears, pending arrears relay_off
// commands are cancelled; when a sale lifts it above [billing] reconnect_above, the meters
// opened for arrears get relay_on (reason 'topup').

#include <kwh/config/config.hpp>
#include <kwh/util/time.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kwh::storage {
class Database;
}

namespace kwh::billing {

std::string compute_status(std::int64_t balance, std::optional<std::int64_t> alarm1,
                           std::optional<std::int64_t> alarm2, std::int64_t credit_limit,
                           std::int64_t emergency_owed = 0);

struct StatusChange {
  std::string before;
  std::string after;
  std::vector<std::string> events;     // kinds of events written
  std::vector<std::int64_t> commands;  // ids of commands queued
  std::optional<std::int64_t> granted; // the ledger entry of emergency credit granted automatically
};

// Re-evaluates an account after its balance changed. event_time stamps the events (the
// reading's or the sale's time); now is when commands are created. after_sale: the change was a
// sale, so relays opened for arrears may close again (above [billing] reconnect_above);
// after_grant: emergency credit was granted, so they close again once out of arrears. With
// [billing] emergency_credit_auto, a change that is not a sale grants the emergency credit when
// it is offered (credit.hpp), in the same transaction, before the status is worked out.
StatusChange update_status(storage::Database& db, const config::Config& config, std::int64_t account_id,
                           UnixTime event_time, UnixTime now, bool after_sale, bool after_grant = false);

// When a disconnection queued at `now` may run: now, or the end of the friendly hours/days
// that now falls in.
UnixTime friendly_not_before(const config::Billing& billing, UnixTime now);

// Queues a command for a meter; returns its id.
std::int64_t queue_command(storage::Database& db, std::int64_t meter_id, const std::string& action,
                           const std::string& reason, UnixTime created, UnixTime not_before,
                           const std::optional<std::string>& operator_name = {});

// Writes an event; returns its id.
std::int64_t write_event(storage::Database& db, UnixTime time, const std::string& kind,
                         std::optional<std::int64_t> meter_id, std::optional<std::int64_t> account_id,
                         const std::string& detail);

} // namespace kwh::billing
