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
};

// Claims up to `limit` due commands: state running, attempts + 1. One transaction.
std::vector<QueuedCommand> claim_due_commands(storage::Database& db, UnixTime now, std::size_t limit);

// Commands left running by a kwhd that stopped abruptly go back to pending. Returns how many.
int requeue_running(storage::Database& db);

// When a failed attempt is tried again: 2 s, 4 s, 8 s ... (at most 5 min) after `now`.
UnixTime retry_time(UnixTime now, int attempts);

// Records the outcome of one attempt (one transaction) and returns what became of it.
CommandResult finish_command(storage::Database& db, const QueuedCommand& c, const CommandOutcome& o, UnixTime now);

} // namespace kwh::daemon
