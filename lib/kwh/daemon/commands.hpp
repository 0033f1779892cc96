#pragma once
// The command queue as kwhd sees it: due commands (state pending, not_before <= now) are
// claimed (state running, one more attempt) and handed to their meter's bus; the outcome is
// recorded: done with the read-back, or pending again with a later not_before (backoff) until
// k_command_attempts, then failed with a command_failed event. A relay switched updates
// meters.relay_state and writes relay_changed (site::record_relay).

#include <kwh/daemon/metrics.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/util/time.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace kwh::daemon {

inline constexpr int k_command_attempts = 5;

struct QueuedCommand {
  std::int64_t id = 0;
  std::int64_t meter_id = 0;
  std::string action; // relay_on | relay_off | set | sync_time
  std::optional<std::string> argument;
  std::string reason;
  int attempts = 0; // including the one now being made
};

struct CommandOutcome {
  bool ok = false;
  std::string error;    // when !ok: one line
  std::string readback; // "on", "off", "unreadable", "unknown", or the words read back
  // A failure that no retry can fix (no relay in the profile, unknown action): fail at once.
  bool permanent = false;
  // sync_time: the meter's clock minus kwh's, in seconds, as read before setting it and after;
  // drift_alarm when the first exceeded [poll] max_drift (a clock_drift event).
  std::optional<std::int64_t> drift_before, drift_after;
  bool drift_alarm = false;
};

// Claims up to `limit` due commands: state running, attempts + 1. One transaction.
std::vector<QueuedCommand> claim_due_commands(storage::Database& db, UnixTime now, std::size_t limit);

// Commands left running by a kwhd that stopped abruptly go back to pending. Returns how many.
int requeue_running(storage::Database& db);

// When a failed attempt is tried again: 2 s, 4 s, 8 s ... (at most 5 min) after `now`.
UnixTime retry_time(UnixTime now, int attempts);

// What a poll found of the relay's actual state ([relay.status]) when it changed at the meter or
// is the first report since kwhd started (PolledReading::relay_news). Nothing happens when kwh
// already knows that state, or when a relay command for the meter is pending or running (its
// read-back decides). Otherwise meters.relay_state follows the meter, and, unless kwh knew
// nothing yet ("unknown"), a `relay_unexpected` event says what changed without a command: a
// relay opened at the meter (its own overload trip) gets relay_reason "meter"; one closed at the
// meter (the tenant's button) while kwh holds it open (arrears, overload, the operator, relay
// mode off) is opened again, a relay_off command with the same reason. Returns the event's
// detail, or empty. Runs in the caller's transaction.
std::string relay_reported(storage::Database& db, std::int64_t meter_id, bool closed, UnixTime time);

// Records the outcome of one attempt (one transaction) and returns what became of it. A
// sync_time's read-back drift goes to meters.clock_drift / clock_checked_at, and once the
// command is done or failed for good, a drift over [poll] max_drift is a clock_drift event.
CommandResult finish_command(storage::Database& db, const QueuedCommand& c, const CommandOutcome& o, UnixTime now);

} // namespace kwh::daemon
