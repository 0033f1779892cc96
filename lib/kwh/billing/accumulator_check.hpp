#pragma once
// `kwh check` for the open accumulators (ledger/accumulator.hpp): each account's, meter's and
// day's charged quantity, open and posted alike, must be what its readings give when the day
// is charged again from them (billing/interval.hpp, the same arithmetic the Biller uses). An
// accumulator edited behind kwh's back, with its hash recomputed, is still found.

#include <kwh/config/config.hpp>

#include <string>
#include <vector>

namespace kwh::storage {
class Database;
}

namespace kwh::billing {

// One line per finding; empty when every open accumulator agrees with its readings.
std::vector<std::string> verify_accumulators(storage::Database& db, const config::Config& config);

} // namespace kwh::billing
