#include <kwh/readings/maintenance.hpp>

#include <kwh/readings/store.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

namespace kwh::readings {

namespace {

using Clock = std::chrono::steady_clock;

// Per block row besides its data: the key, n, thinned and the record and cell headers.
constexpr std::int64_t k_block_overhead = 24;
// A recent row, as it takes up a page (key, values, headers).
constexpr std::int64_t k_row_bytes = 40;

// Encodes readings into blocks of at most k_block_bytes; calls out for each finished block.
template <typename Out> void encode_blocks(const std::vector<Reading>& rs, Out&& out) {
  BlockEncoder e;
  for (const auto& r : rs) {
    if (e.count() > 0 && e.size_if_added(r) > k_block_bytes) {
      out(e);
      e.clear();
    }
    e.add(r);
  }
  if (e.count() > 0) out(e);
}

bool over_budget(Clock::time_point started) { return Clock::now() - started >= k_step_budget; }

} // namespace

std::uint64_t adopt_rows(storage::Database& db) {
  std::uint64_t moved = 0;
  auto st = db.prepare("SELECT meter_id, t, value, sharp, peak, flat, valley, power, flags FROM readings_v3 "
                       "ORDER BY meter_id, t");
  BlockEncoder e;
  std::int64_t meter = -1;
  auto write = [&] {
    if (e.count() > 0) insert_block(db, meter, e);
    e.clear();
  };
  while (st.step()) {
    const std::int64_t m = st.get_int(0);
    Reading r = read_row(st, 1);
    if (m != meter || (e.count() > 0 && e.size_if_added(r) > k_block_bytes)) write();
    meter = m;
    e.add(r);
    ++moved;
  }
  write();
  st = storage::Statement();
  db.exec("DROP TABLE readings_v3");
  return moved;
}

bool compact_step(storage::Database& db, UnixTime before, Stats& stats, bool dry_run) {
  constexpr int k_rows = 20'000;
  // The oldest rows, in key order (time, then meter), as many as one step takes.
  std::map<std::int64_t, std::vector<Reading>> by_meter;
  UnixTime last_t = 0;
  std::int64_t last_meter = 0;
  int taken = 0;
  {
    auto st = db.prepare(fmt::format("SELECT meter_id, t, value, sharp, peak, flat, valley, power, flags FROM readings "
                                     "WHERE t < ?1 ORDER BY t, meter_id{}",
                                     dry_run ? "" : " LIMIT " + std::to_string(k_rows)));
    st.bind(1, before);
    while (st.step()) {
      last_meter = st.get_int(0);
      Reading r = read_row(st, 1);
      last_t = r.t;
      by_meter[last_meter].push_back(r);
      ++taken;
    }
  }
  if (taken == 0) return true;
  std::vector<Reading> all;
  std::string buffer;
  for (auto& [meter_key, rows] : by_meter) {
    const std::int64_t meter = meter_key; // a plain variable: lambdas below capture it
    // The meter's block just before these rows, when it has room: they go on at its end.
    all.clear();
    std::optional<UnixTime> old_t0;
    std::int64_t old_bytes = 0;
    {
      auto& st = db.cached("SELECT t0, thinned, data FROM reading_blocks WHERE meter_id = ?1 AND t0 < ?2 "
                           "ORDER BY t0 DESC LIMIT 1");
      st.bind_all(meter, rows.front().t);
      if (st.step() && st.get_int(1) == 0) {
        buffer = st.get_blob(2);
        if (buffer.size() < k_block_bytes * 3 / 4) {
          old_t0 = st.get_int(0);
          old_bytes = static_cast<std::int64_t>(buffer.size());
          if (!decode_block(buffer, all))
            fail(Exit::failed, "the readings block of meter id {} from {} does not decode: the database is damaged",
                 meter, format_time(*old_t0));
        }
      }
      st.reset();
    }
    all.insert(all.end(), rows.begin(), rows.end());
    std::int64_t new_bytes = 0;
    if (old_t0 && !dry_run) {
      auto& del = db.cached("DELETE FROM reading_blocks WHERE meter_id = ?1 AND t0 = ?2");
      del.bind_all(meter, *old_t0);
      del.run();
    }
    encode_blocks(all, [&](const BlockEncoder& e) {
      new_bytes += static_cast<std::int64_t>(e.data().size()) + k_block_overhead;
      if (!dry_run) insert_block(db, meter, e);
    });
    stats.rows_compacted += rows.size();
    stats.bytes_freed += static_cast<std::int64_t>(rows.size()) * k_row_bytes + old_bytes +
                         (old_t0 ? k_block_overhead : 0) - new_bytes;
  }
  if (!dry_run) {
    auto& del = db.cached("DELETE FROM readings WHERE t < ?1 OR (t = ?1 AND meter_id <= ?2)");
    del.bind_all(last_t, last_meter);
    del.run();
  }
  ++stats.steps;
  return dry_run || taken < k_rows;
}

namespace {

// The readings kept when thinning a meter's readings to one per thin_to: the one nearest each
// boundary (a multiple of thin_to since the epoch; the earlier on a tie), the first and the
// last, and around a counter reset both the baseline and the reading before it, so that every
// Δ between kept readings is still what the meter counted.
std::vector<Reading> thinned(const std::vector<Reading>& rs, std::int64_t thin_to) {
  if (rs.size() <= 2) return rs;
  std::vector<bool> keep(rs.size(), false);
  keep.front() = keep.back() = true;
  auto ceil_to = [&](std::int64_t t) {
    std::int64_t q = t / thin_to * thin_to;
    return q < t ? q + thin_to : q;
  };
  // Between two readings a <= b < c, every boundary b's nearest is a or c: a is some boundary's
  // nearest when the first boundary of the gap is (b - a <= c - b; a tie goes to the earlier),
  // c when the last one is.
  for (std::size_t i = 0; i + 1 < rs.size(); ++i) {
    const UnixTime a = rs[i].t, c = rs[i + 1].t;
    const UnixTime first = ceil_to(a);
    if (first >= c) continue; // no boundary in [a, c)
    const UnixTime last = ceil_to(c) - thin_to;
    if (first - a <= c - first) keep[i] = true;
    if (c - last < last - a) keep[i + 1] = true;
  }
  for (std::size_t k = 1; k < rs.size(); ++k)
    if (rs[k].flags & k_flag_baseline) keep[k] = keep[k - 1] = true;
  std::vector<Reading> out;
  for (std::size_t k = 0; k < rs.size(); ++k)
    if (keep[k]) out.push_back(rs[k]);
  return out;
}

} // namespace

bool thin_step(storage::Database& db, UnixTime cutoff, std::int64_t thin_to, Stats& stats, bool dry_run) {
  const auto started = Clock::now();
  // One meter at a time, the one with the oldest raw block before the cutoff (a look-up in the
  // partial index of raw blocks); a dry run, which writes nothing, takes them all at once.
  std::vector<std::int64_t> meters;
  auto next_meter = [&]() -> std::optional<std::int64_t> {
    auto& st = db.cached("SELECT meter_id FROM reading_blocks INDEXED BY reading_blocks_raw WHERE thinned = 0 AND "
                         "t0 < ?1 ORDER BY t0 LIMIT 1");
    st.bind(1, cutoff);
    std::optional<std::int64_t> m;
    if (st.step()) m = st.get_int(0);
    st.reset();
    return m;
  };
  if (dry_run) {
    auto st = db.prepare("SELECT DISTINCT meter_id FROM reading_blocks INDEXED BY reading_blocks_raw "
                         "WHERE thinned = 0 AND t0 < ?1");
    st.bind(1, cutoff);
    while (st.step()) meters.push_back(st.get_int(0));
  }
  std::size_t done = 0;
  std::vector<Reading> old, rest, block;
  std::string buffer;
  for (std::size_t k = 0;; ++k) {
    std::int64_t meter;
    if (dry_run) {
      if (k == meters.size()) break;
      meter = meters[k];
    } else {
      auto m = next_meter();
      if (!m) {
        ++stats.steps;
        return true;
      }
      meter = *m;
    }
    old.clear();
    rest.clear();
    std::vector<UnixTime> t0s;
    std::int64_t old_bytes = 0;
    {
      auto& st = db.cached("SELECT t0, data FROM reading_blocks WHERE meter_id = ?1 AND t0 < ?2 AND thinned = 0 "
                           "ORDER BY t0");
      st.bind_all(meter, cutoff);
      while (st.step()) {
        t0s.push_back(st.get_int(0));
        buffer = st.get_blob(1);
        old_bytes += static_cast<std::int64_t>(buffer.size()) + k_block_overhead;
        block.clear();
        if (!decode_block(buffer, block))
          fail(Exit::failed, "the readings block of meter id {} from {} does not decode: the database is damaged",
               meter, format_time(t0s.back()));
        // A block that runs past the cutoff keeps its newer readings raw.
        for (const auto& r : block) (r.t < cutoff ? old : rest).push_back(r);
      }
      st.reset();
    }
    auto kept = thinned(old, thin_to);
    std::int64_t new_bytes = 0;
    if (!dry_run) {
      auto& del = db.cached("DELETE FROM reading_blocks WHERE meter_id = ?1 AND t0 = ?2");
      for (auto t0 : t0s) {
        del.bind_all(meter, t0);
        del.run();
      }
    }
    encode_blocks(kept, [&](const BlockEncoder& e) {
      new_bytes += static_cast<std::int64_t>(e.data().size()) + k_block_overhead;
      if (!dry_run) insert_block(db, meter, e, true);
    });
    encode_blocks(rest, [&](const BlockEncoder& e) {
      new_bytes += static_cast<std::int64_t>(e.data().size()) + k_block_overhead;
      if (!dry_run) insert_block(db, meter, e, false);
    });
    stats.readings_removed += old.size() - kept.size();
    stats.readings_kept += kept.size();
    stats.bytes_freed += old_bytes - new_bytes;
    ++done;
    if (!dry_run && over_budget(started)) {
      ++stats.steps;
      return false;
    }
  }
  ++stats.steps;
  return true;
}

bool prune_events_step(storage::Database& db, UnixTime cutoff, Stats& stats, bool dry_run) {
  // Conditions (with an end) stay while active; instants go once old.
  constexpr const char* k_which = "time < ?1 AND (ended IS NOT NULL OR kind NOT IN ('alarm1', 'alarm2', 'arrears', "
                                  "'overload', 'meter_offline', 'gateway_offline', 'device_offline', 'implausible'))";
  if (dry_run) {
    auto st = db.prepare(fmt::format("SELECT count(*), coalesce(sum(length(detail)), 0) FROM events WHERE {}", k_which));
    st.bind(1, cutoff);
    st.step();
    stats.events_removed += static_cast<std::uint64_t>(st.get_int(0));
    stats.bytes_freed += st.get_int(0) * 32 + st.get_int(1);
    ++stats.steps;
    return true;
  }
  constexpr int k_rows = 5'000;
  auto st = db.prepare(fmt::format("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE {} LIMIT {}) "
                                   "RETURNING length(detail)",
                                   k_which, k_rows));
  st.bind(1, cutoff);
  int n = 0;
  while (st.step()) {
    ++n;
    stats.bytes_freed += 32 + st.get_int(0);
  }
  stats.events_removed += static_cast<std::uint64_t>(n);
  ++stats.steps;
  return n < k_rows;
}

bool vacuum_step(storage::Database& db, int pages) {
  auto mode = db.prepare("PRAGMA auto_vacuum");
  mode.step();
  if (mode.get_int(0) != 2) return true;
  db.exec(fmt::format("PRAGMA incremental_vacuum({})", pages));
  auto free = db.prepare("PRAGMA freelist_count");
  free.step();
  return free.get_int(0) == 0;
}

std::optional<UnixTime> raw_cutoff(const Policy& p, UnixTime now) {
  if (!p.raw) return std::nullopt;
  return now - *p.raw;
}

std::optional<UnixTime> events_cutoff(const Policy& p, UnixTime now) {
  if (!p.events) return std::nullopt;
  return now - *p.events;
}

const char* phase_name(Phase p) {
  switch (p) {
  case Phase::compact: return "compacting recent readings";
  case Phase::thin: return "thinning old readings";
  case Phase::events: return "removing old events";
  case Phase::vacuum: return "returning free pages";
  case Phase::done: return "done";
  }
  return "done";
}

Phase prune_step(storage::Database& db, Phase phase, const Policy& p, UnixTime now, Stats& stats, bool dry_run) {
  switch (phase) {
  case Phase::compact:
    return compact_step(db, now - k_compact_after, stats, dry_run) ? Phase::thin : Phase::compact;
  case Phase::thin: {
    auto cutoff = raw_cutoff(p, now);
    if (!cutoff) return Phase::events;
    return thin_step(db, *cutoff, p.thin_to, stats, dry_run) ? Phase::events : Phase::thin;
  }
  case Phase::events: {
    auto cutoff = events_cutoff(p, now);
    if (!cutoff) return Phase::vacuum;
    return prune_events_step(db, *cutoff, stats, dry_run) ? Phase::vacuum : Phase::events;
  }
  case Phase::vacuum:
    return dry_run || vacuum_step(db) ? Phase::done : Phase::vacuum;
  case Phase::done: return Phase::done;
  }
  return Phase::done;
}

Stats prune(storage::Database& db, const Policy& p, UnixTime now, bool dry_run,
            const std::function<void(Phase, const Stats&)>& progress, std::vector<double>* holds) {
  Stats stats;
  if (dry_run) {
    // Everything at once in one read transaction: one state, and no lock held.
    db.exec("BEGIN");
    try {
      for (Phase phase = Phase::compact; phase != Phase::done;) {
        phase = prune_step(db, phase, p, now, stats, true);
        if (progress) progress(phase, stats);
      }
    } catch (...) {
      db.exec("ROLLBACK");
      throw;
    }
    db.exec("ROLLBACK");
    return stats;
  }
  for (Phase phase = Phase::compact; phase != Phase::done;) {
    const auto started = Clock::now();
    if (phase == Phase::vacuum) {
      phase = prune_step(db, phase, p, now, stats, false); // PRAGMA incremental_vacuum: its own transaction
    } else {
      storage::Transaction tx(db);
      phase = prune_step(db, phase, p, now, stats, false);
      tx.commit();
    }
    const double held = std::chrono::duration<double>(Clock::now() - started).count();
    if (holds) holds->push_back(held);
    if (progress) progress(phase, stats);
  }
  return stats;
}

} // namespace kwh::readings
