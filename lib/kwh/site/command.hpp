#pragma once
// Commands for meters (docs/contract.md "Words"): queued in the commands table and carried out by kwhd,
// or carried out at once (--direct) and recorded there too, so that every relay switch kwh
// made has a row with its operator, outcome and read-back.

#include <kwh/storage/database.hpp>
#include <kwh/util/time.hpp>

#include <optional>
#include <string>
#include <vector>

namespace kwh::site {

struct Command {
  std::int64_t id = 0;
  std::int64_t meter_id = 0;
  std::string meter;  // the meter's name
  std::string action; // relay_on | relay_off | set | sync_time
  std::optional<std::string> argument;
  std::optional<std::string> reason; // operator, arrears, topup, overload
  std::string state = "pending";     // pending | running | done | failed | cancelled
  UnixTime created = 0;
  UnixTime not_before = 0;
  int attempts = 0;
  std::optional<std::string> last_error;
  std::optional<std::string> readback;
  std::optional<UnixTime> finished;
  std::optional<std::string> operator_name;

  bool open() const { return state == "pending" || state == "running"; }
};

struct NewCommand {
  std::int64_t meter_id = 0;
  std::string action;
  std::optional<std::string> argument;
  std::string reason = "operator";
  std::optional<std::string> operator_name;
  std::optional<UnixTime> not_before; // default: now
};

// Queues a command (state pending) inside the caller's transaction; returns its id. A relay
// command supersedes the meter's relay commands still pending (they become cancelled), so
// that the last decision wins and a relay is never switched back and forth from a backlog.
std::int64_t queue_command(storage::Database& db, const NewCommand& c);

// Records a command carried out at once (--direct): state done or failed, one attempt.
std::int64_t record_direct_command(storage::Database& db, const NewCommand& c, bool ok,
                                   const std::optional<std::string>& error, const std::optional<std::string>& readback);

std::optional<Command> find_command(storage::Database& db, std::int64_t id);
// The commands with these ids, in the order given (ids that do not exist are left out).
std::vector<Command> commands(storage::Database& db, const std::vector<std::int64_t>& ids);

// What a time sync last read of a meter's clock (meters.clock_drift, clock_checked_at): its clock
// minus kwh's in seconds, and when; nullopt before the first sync.
struct ClockCheck {
  std::int64_t drift = 0;
  UnixTime at = 0;
};
std::optional<ClockCheck> last_clock_check(storage::Database& db, std::int64_t meter_id);

} // namespace kwh::site
