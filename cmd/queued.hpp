#pragma once
// Commands queued for kwhd (relay on/off, sync-time): waiting for them with --wait, the table
// that shows them, and the exit status that says what became of them.

#include "context.hpp"

#include <kwh/site/meter.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kwh::cli {

// The operator recorded with each command: as authorize() found them, else the login name.
std::string operator_of(const Context& ctx);

// Which meters a queued command is for: named (- reads IDs from standard input), a building's,
// or all in service. Exactly one way (else exit 64); named ones must exist and be in service.
struct MeterChoice {
  std::vector<std::string> meters;
  std::optional<std::string> building;
  bool all = false;
};
void add_meter_choice(CLI::App* sub, MeterChoice& choice, const std::string& all_help);
std::vector<site::Meter> chosen_meters(storage::Database& db, const MeterChoice& choice, const std::string& what);

// A meter left out of a batch, and why ("its profile names no clock").
struct Unsupported {
  std::string meter;
  std::string why;
};

// Prints the commands `ids` (after waiting up to `wait` seconds for kwhd to carry them out, when
// given). With --wait: exit 69 (unavailable) naming the meters whose command failed, 75
// (temporary) when some are still pending at the deadline. `what` names the work in messages:
// "relay on", "sync-time".
// Meters in `unsupported` are rows of their own, state "unsupported". With --wait, progress
// ("sync-time: 120 of 2000 done, 3 failed") is drawn on a terminal.
int report_queued(Context& ctx, const std::vector<std::int64_t>& ids, std::optional<double> wait, const std::string& what,
                  const std::vector<Unsupported>& unsupported = {});

} // namespace kwh::cli
