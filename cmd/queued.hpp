#pragma once
// Commands queued for kwhd (relay on/off, sync-time): waiting for them with --wait, the table
// that shows them, and the exit status that says what became of them.

#include "context.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kwh::cli {

// The operator recorded with each command: as authorize() found them, else the login name.
std::string operator_of(const Context& ctx);

// Prints the commands `ids` (after waiting up to `wait` seconds for kwhd to carry them out, when
// given). With --wait: exit 69 (unavailable) naming the meters whose command failed, 75
// (temporary) when some are still pending at the deadline. `what` names the work in messages:
// "relay on", "sync-time".
int report_queued(Context& ctx, const std::vector<std::int64_t>& ids, std::optional<double> wait, const std::string& what);

} // namespace kwh::cli
