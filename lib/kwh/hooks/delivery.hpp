#pragma once
// Hook deliveries (table hook_deliveries): what kwhd's runner takes to run, what it records of
// each attempt, and what `kwh log --hooks` lists. A delivery is pending (with next_try, the
// time before which it is not tried again), sent (its program exited 0), or failed (it failed
// once more than [hooks] retry has delays). Everything here runs in the caller's transaction.

#include <kwh/config/config.hpp>
#include <kwh/util/time.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kwh::storage {
class Database;
}

namespace kwh::hooks {

struct Due {
  std::int64_t id = 0;
  std::string kind;
  std::string payload;
  int attempts = 0; // made before this one
};

// Pending deliveries of configured kinds whose next_try has come, oldest first, leaving out
// those in `running`; at most `limit`.
std::vector<Due> due(storage::Database& db, const config::Config& cfg, UnixTime now, std::size_t limit,
                     const std::set<std::int64_t>& running);

// The outcome of one attempt: sent, or pending again after the next delay of [hooks] retry, or
// failed when they are used up. Returns the new state.
std::string record(storage::Database& db, const config::Config& cfg, std::int64_t id, const std::string& program,
                   bool ok, const std::string& error, UnixTime now);

std::int64_t pending_count(storage::Database& db);

// The command line as the log shows it: arguments with blanks or quotes in double quotes.
std::string program_text(const std::vector<std::string>& argv);

struct Delivery {
  std::int64_t id = 0;
  UnixTime created = 0;
  std::string kind;
  std::optional<std::string> account;
  std::optional<std::string> program;
  std::string state;
  int attempts = 0;
  std::optional<UnixTime> last_try, next_try, finished;
  std::optional<std::string> last_error;
  std::string payload;
};

struct ListFilter {
  std::optional<UnixTime> since;
  std::optional<std::string> kind, state, account;
};

// Oldest first, as `kwh log` lists.
std::vector<Delivery> list(storage::Database& db, const ListFilter& filter);

} // namespace kwh::hooks
