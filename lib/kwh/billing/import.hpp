#pragma once
// `kwh reading import FILE.csv`: readings from a file, billed exactly like polled ones.
//
// The header is `meter,time` followed by value names: energy_total (electricity) or
// volume_total (water), and optionally energy_sharp, energy_peak, energy_flat, energy_valley and
// power_total. Times are RFC 3339 or site-local. A file with any bad line is rejected whole
// (Exit::data naming every bad line) and nothing is written; the same reading again is skipped;
// a different value at an existing time, or a time older than the meter's latest reading, is a
// bad line. Good files are billed in time order in one transaction.

#include <kwh/config/config.hpp>

#include <cstdint>
#include <functional>
#include <istream>
#include <string>

namespace kwh::storage {
class Database;
}

namespace kwh::billing {

struct ImportSummary {
  int lines = 0;   // data lines read
  int stored = 0;  // readings stored (baselines, billed and counter resets)
  int skipped = 0; // the same reading again
  int held = 0;    // implausible, held
  int resets = 0;  // counter resets
  std::int64_t charged = 0; // minor units, in total
  int commands = 0;         // relay commands queued
};

// How far a long import has got, for a progress display: while reading the file, the lines read
// (total 0: not known yet); while billing, the readings billed of those to bill. Reported every
// few thousand lines or readings, so it costs nothing that shows.
struct ImportProgress {
  enum class Phase { reading, billing } phase = Phase::reading;
  std::uint64_t done = 0;
  std::uint64_t total = 0;
};
using ImportProgressFn = std::function<void(const ImportProgress&)>;

ImportSummary import_readings(storage::Database& db, const config::Config& config, std::istream& in,
                              const std::string& source, std::function<std::int64_t()> clock = {},
                              const ImportProgressFn& progress = {});

} // namespace kwh::billing
