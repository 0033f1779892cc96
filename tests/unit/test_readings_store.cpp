#include <doctest/doctest.h>

#include "temp_dir.hpp"

#include <kwh/readings/maintenance.hpp>
#include <kwh/readings/store.hpp>
#include <kwh/storage/database.hpp>

#include <random>

using namespace kwh;
using namespace kwh::readings;

namespace {

struct Store {
  test::TempDir dir;
  std::unique_ptr<storage::Database> db;
  Store() {
    db = storage::Database::open(dir.file("kwh.db"), storage::OpenMode::create);
    storage::migrate(*db);
    db->exec("PRAGMA synchronous = OFF");
  }
  std::int64_t count(const std::string& sql) {
    auto st = db->prepare(sql);
    st.step();
    return st.get_int(0);
  }
  std::vector<Reading> all(std::int64_t meter) {
    std::vector<Reading> out;
    scan(*db, meter, 0, 1'000'000'000'000, [&](const Reading& r) {
      out.push_back(r);
      return true;
    });
    return out;
  }
};

// A minute's reading of a meter drawing about 3 kW, with band registers and power.
Reading minute(UnixTime t, std::int64_t& energy, std::mt19937_64& rng) {
  const std::int64_t wh = 40 + static_cast<std::int64_t>(rng() % 30);
  energy += wh;
  Reading r;
  r.t = t;
  r.value = energy;
  r.peak = energy / 2;
  r.valley = energy - energy / 2;
  r.power = 2400 + static_cast<std::int64_t>(rng() % 1200);
  return r;
}

} // namespace

TEST_CASE("Readings store: rows and blocks read back as one series, merged by time") {
  Store s;
  std::mt19937_64 rng(1);
  std::int64_t e = 1'000'000;
  std::vector<Reading> want;
  {
    storage::Transaction tx(*s.db);
    BlockWriter blocks(*s.db);
    for (int i = 0; i < 500; ++i) { // an import: blocks
      want.push_back(minute(1'800'000'000 + i * 60, e, rng));
      blocks.add(7, want.back());
    }
    tx.commit(); // the last partial block is written at the commit
  }
  CHECK(s.count("SELECT count(*) FROM reading_blocks WHERE meter_id = 7") > 1);
  CHECK(s.count("SELECT max(length(data)) FROM reading_blocks") <= static_cast<std::int64_t>(k_block_bytes));
  {
    storage::Transaction tx(*s.db);
    for (int i = 500; i < 520; ++i) { // kwhd: rows
      want.push_back(minute(1'800'000'000 + i * 60, e, rng));
      insert_row(*s.db, 7, want.back());
    }
    insert_row(*s.db, 8, want.front()); // another meter's row in between
    tx.commit();
  }
  CHECK(s.all(7) == want);
  CHECK(count(*s.db) == 521);
  CHECK(count(*s.db, 7) == 520);
  CHECK(latest(*s.db, 7) == want.back());
  CHECK(at(*s.db, 7, want[250].t) == want[250]);
  CHECK(at(*s.db, 7, want[510].t) == want[510]);
  CHECK_FALSE(at(*s.db, 7, want[250].t + 1));
  CHECK(at_or_before(*s.db, 7, want[250].t + 59) == want[250]);
  CHECK(at_or_before(*s.db, 7, want[505].t + 1) == want[505]);
  CHECK_FALSE(at_or_before(*s.db, 7, want[0].t - 1));
  CHECK(any(*s.db, 8));
  CHECK_FALSE(any(*s.db, 9));
  // A range, and stopping early.
  std::vector<Reading> part;
  scan(*s.db, 7, want[100].t, want[510].t, [&](const Reading& r) {
    part.push_back(r);
    return true;
  });
  CHECK(part == std::vector<Reading>(want.begin() + 100, want.begin() + 510));
  int seen = 0;
  scan(*s.db, 7, 0, want.back().t + 1, [&](const Reading&) { return ++seen < 3; });
  CHECK(seen == 3);
  RecentRows recent(*s.db, 0, want.back().t + 1);
  part.clear();
  scan(*s.db, 7, 0, want.back().t + 1, [&](const Reading& r) { part.push_back(r); return true; }, &recent);
  CHECK(part == want);
}

TEST_CASE("Readings store: compaction moves rows older than the cutoff into blocks, appending to the meter's last") {
  Store s;
  std::mt19937_64 rng(2);
  std::map<std::int64_t, std::vector<Reading>> want;
  std::map<std::int64_t, std::int64_t> energy;
  for (int i = 0; i < 300; ++i) {
    storage::Transaction tx(*s.db);
    for (std::int64_t m = 1; m <= 20; ++m) {
      energy.try_emplace(m, m * 1'000'000);
      want[m].push_back(minute(1'800'000'000 + i * 60, energy[m], rng));
      insert_row(*s.db, m, want[m].back());
    }
    tx.commit();
  }
  const UnixTime cutoff = 1'800'000'000 + 200 * 60;
  Stats dry;
  {
    storage::Transaction tx(*s.db);
    CHECK(compact_step(*s.db, cutoff, dry, true));
  }
  CHECK(dry.rows_compacted == 200 * 20);
  CHECK(s.count("SELECT count(*) FROM reading_blocks") == 0); // the dry run wrote nothing
  Stats stats;
  int steps = 0;
  for (bool done = false; !done; ++steps) {
    storage::Transaction tx(*s.db);
    done = compact_step(*s.db, cutoff, stats, false);
    tx.commit();
  }
  CHECK(stats.rows_compacted == 200 * 20);
  CHECK(s.count("SELECT count(*) FROM readings") == 100 * 20);
  CHECK(s.count("SELECT min(t) FROM readings") == cutoff);
  for (std::int64_t m = 1; m <= 20; ++m) CHECK(s.all(m) == want[m]);
  // Again later: the next rows go on at the end of each meter's last block while it has room.
  const auto blocks_before = s.count("SELECT count(*) FROM reading_blocks");
  {
    storage::Transaction tx(*s.db);
    CHECK(compact_step(*s.db, cutoff + 10 * 60, stats, false));
    tx.commit();
  }
  CHECK(s.count("SELECT count(*) FROM reading_blocks") == blocks_before);
  for (std::int64_t m = 1; m <= 20; ++m) CHECK(s.all(m) == want[m]);
  // Bytes a reading, in blocks: well under a row's.
  CHECK(s.count("SELECT sum(length(data)) FROM reading_blocks") < 10 * 210 * 20);
}

TEST_CASE("Readings store: thinning keeps the reading nearest each boundary, ends and resets; every delta stays exact") {
  Store s;
  std::mt19937_64 rng(3);
  std::int64_t e = 0;
  std::vector<Reading> rs;
  {
    storage::Transaction tx(*s.db);
    BlockWriter blocks(*s.db);
    UnixTime t = 1'799'996'400 + 25; // 25 s after an hour boundary
    for (int i = 0; i < 3 * 24 * 60; ++i, t += 60) {
      rs.push_back(minute(t, e, rng));
      if (i == 1000) { // a counter reset
        rs.back().value = 10;
        rs.back().flags = k_flag_baseline;
        e = 10;
      }
      blocks.add(1, rs.back());
    }
    tx.commit();
  }
  const UnixTime cutoff = rs[2 * 24 * 60].t; // the first two days are old
  Stats stats;
  for (bool done = false; !done;) {
    storage::Transaction tx(*s.db);
    done = thin_step(*s.db, cutoff, 3600, stats, false);
    tx.commit();
  }
  auto kept = s.all(1);
  // Every boundary of the old days has its nearest reading: 25 s after it.
  for (UnixTime b = 1'800'000'000; b + 3600 <= cutoff; b += 3600) {
    CAPTURE(b);
    CHECK(std::any_of(kept.begin(), kept.end(), [&](const Reading& r) { return r.t == b + 25; }));
  }
  CHECK(kept.front() == rs.front());
  CHECK(std::find(kept.begin(), kept.end(), rs[1000]) != kept.end()); // the reset
  CHECK(std::find(kept.begin(), kept.end(), rs[999]) != kept.end());  // and the reading before it
  // The raw readings after the cutoff are all still there.
  CHECK(std::equal(rs.begin() + 2 * 24 * 60, rs.end(), kept.end() - 24 * 60));
  const auto removed = static_cast<std::uint64_t>(rs.size() - kept.size());
  CHECK(stats.readings_removed == removed);
  CHECK(kept.size() == 48 + 2 + 1 + 24 * 60); // the boundaries, the reset and the one before, the first; the raw day
  // What any span between kept readings counted is what the raw readings counted.
  for (std::size_t i = 1; i < kept.size(); ++i) {
    if (kept[i].flags & k_flag_baseline) continue;
    std::int64_t raw = 0;
    for (std::size_t k = 1; k < rs.size(); ++k)
      if (rs[k].t > kept[i - 1].t && rs[k].t <= kept[i].t && !(rs[k].flags & k_flag_baseline))
        raw += rs[k].value - rs[k - 1].value;
    CHECK(kept[i].value - kept[i - 1].value == raw);
  }
  // Thinned once: a second prune changes nothing.
  Stats again;
  {
    storage::Transaction tx(*s.db);
    CHECK(thin_step(*s.db, cutoff, 3600, again, false));
    tx.commit();
  }
  CHECK(again.readings_removed == 0);
  CHECK(s.all(1) == kept);
}

TEST_CASE("Readings store: old events go, active conditions stay; a dry run counts the same and writes nothing") {
  Store s;
  s.db->exec("INSERT INTO events(time, kind, detail, ended) VALUES (100, 'counter_reset', 'old instant', NULL), "
             "(100, 'arrears', 'old, ended', 200), (100, 'meter_offline', 'old, still offline', NULL), "
             "(5000, 'counter_reset', 'recent', NULL)");
  Policy p;
  p.events = 1000;
  Stats dry;
  CHECK(prune_events_step(*s.db, 4000, dry, true));
  CHECK(dry.events_removed == 2);
  CHECK(s.count("SELECT count(*) FROM events") == 4);
  auto real = prune(*s.db, p, 5000, false);
  CHECK(real.events_removed == 2);
  auto st = s.db->prepare("SELECT group_concat(detail, '; ') FROM (SELECT detail FROM events ORDER BY id)");
  st.step();
  CHECK(st.get_text(0) == "old, still offline; recent");
}

TEST_CASE("Readings store: a new database returns freed pages to the file system in steps") {
  Store s;
  CHECK(s.count("PRAGMA auto_vacuum") == 2);
  std::mt19937_64 rng(4);
  std::int64_t e = 0;
  {
    storage::Transaction tx(*s.db);
    for (int i = 0; i < 20'000; ++i) insert_row(*s.db, 1 + i % 10, minute(1'800'000'000 + i * 6, e, rng));
    tx.commit();
  }
  Policy p;
  auto stats = prune(*s.db, p, 1'800'000'000 + 20'000 * 6 + 7200, false);
  CHECK(stats.rows_compacted == 20'000);
  CHECK(s.count("PRAGMA freelist_count") == 0);
}
