#pragma once
// Keeping the readings small: compaction (recent rows into blocks) and retention ([retention]
// in kwh.toml: raw readings older than `raw` are thinned to the reading nearest each `thin_to`
// boundary; events older than `events` are removed). The ledger, the accumulators, the daily
// rollups and the audit are never touched, so reports, statements and the reconciliation,
// which read those, give the same totals before and after.
//
// Each *_step does a bounded piece of work in the caller's transaction (kwhd commits after
// each, so that it never holds the write lock for more than about k_step_budget) and returns
// true once nothing is left. With dry_run they write nothing and go through everything at once
// (in a read transaction, which holds no lock), counting what they would do.

#include <kwh/storage/database.hpp>
#include <kwh/util/time.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace kwh::readings {

// The work of a step stops at this; with its commit (and fsync) a step holds the write lock for
// well under 50 ms.
inline constexpr std::chrono::milliseconds k_step_budget{20};

struct Policy {
  std::optional<std::int64_t> raw;    // seconds of raw readings kept; nullopt: forever
  std::int64_t thin_to = 3600;        // seconds between the readings kept after that
  std::optional<std::int64_t> events; // seconds of events kept; nullopt: forever
};

struct Stats {
  std::uint64_t rows_compacted = 0;   // recent rows moved into blocks
  std::uint64_t readings_removed = 0; // by thinning
  std::uint64_t readings_kept = 0;    // of those thinned
  std::uint64_t events_removed = 0;
  std::int64_t bytes_freed = 0;       // an estimate of the bytes of records removed, net
  std::uint64_t steps = 0;
};

// Version 3's readings (table readings_v3, keyed by meter and time) into blocks, for the
// migration to version 4. Returns how many readings moved.
std::uint64_t adopt_rows(storage::Database& db);

// Moves recent rows older than `before` into blocks, appending to each meter's last block.
bool compact_step(storage::Database& db, UnixTime before, Stats& stats, bool dry_run = false);

// Thins the raw readings (blocks not yet thinned) that end before `cutoff`.
bool thin_step(storage::Database& db, UnixTime cutoff, std::int64_t thin_to, Stats& stats, bool dry_run = false);

// Removes events older than `cutoff`, except conditions that are still active.
bool prune_events_step(storage::Database& db, UnixTime cutoff, Stats& stats, bool dry_run = false);

// Returns up to `pages` free pages to the file system when the database has auto_vacuum =
// incremental; true when none are left (or it has not).
bool vacuum_step(storage::Database& db, int pages = 512);

// The cutoffs of a policy at `now`.
std::optional<UnixTime> raw_cutoff(const Policy& p, UnixTime now);
std::optional<UnixTime> events_cutoff(const Policy& p, UnixTime now);

// Rows are compacted once they are this old.
inline constexpr std::int64_t k_compact_after = 3600;

// The phases of a prune, in order.
enum class Phase { compact, thin, events, vacuum, done };
const char* phase_name(Phase p);

// One step of a prune's phase, in the caller's transaction (none for vacuum); the phase that
// comes next (the same one while it has work left). kwhd runs these one by one between its
// writes; prune() runs them all.
Phase prune_step(storage::Database& db, Phase phase, const Policy& p, UnixTime now, Stats& stats, bool dry_run);

// A whole prune: every step, each in its own transaction (a dry run in one read transaction).
// progress is called after each step. `holds`: the duration of each write transaction, seconds.
Stats prune(storage::Database& db, const Policy& p, UnixTime now, bool dry_run,
            const std::function<void(Phase, const Stats&)>& progress = {}, std::vector<double>* holds = nullptr);

} // namespace kwh::readings
