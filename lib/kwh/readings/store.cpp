#include <kwh/readings/store.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <vector>

namespace kwh::readings {

namespace {

constexpr const char* k_row_columns = "t, value, sharp, peak, flat, valley, power, flags";

[[noreturn]] void damaged(std::int64_t meter_id, UnixTime t0) {
  fail(Exit::failed, "the readings block of meter id {} from {} does not decode: the database is damaged", meter_id,
       format_time(t0));
}

std::string_view blob(const storage::Statement& st, int col, std::string& buffer) {
  buffer = st.get_blob(col);
  return buffer;
}

} // namespace

Reading read_row(const storage::Statement& st, int first) {
  Reading r;
  r.t = st.get_int(first);
  r.value = st.get_int(first + 1);
  r.sharp = st.get_opt_int(first + 2);
  r.peak = st.get_opt_int(first + 3);
  r.flat = st.get_opt_int(first + 4);
  r.valley = st.get_opt_int(first + 5);
  r.power = st.get_opt_int(first + 6);
  r.flags = static_cast<int>(st.get_int(first + 7));
  return r;
}

void insert_row(storage::Database& db, std::int64_t meter_id, const Reading& r) {
  auto& st = db.cached("INSERT INTO readings(meter_id, t, value, sharp, peak, flat, valley, power, flags) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  st.bind_all(meter_id, r.t, r.value, r.sharp, r.peak, r.flat, r.valley, r.power, r.flags);
  st.run();
}

void insert_rows(storage::Database& db, std::vector<MeterReading>& rows) {
  auto before = [](const MeterReading& a, const MeterReading& b) {
    return a.second.t != b.second.t ? a.second.t < b.second.t : a.first < b.first;
  };
  if (!std::is_sorted(rows.begin(), rows.end(), before)) std::sort(rows.begin(), rows.end(), before);
  // 32 rows a statement: a third less work per row than one at a time.
  constexpr std::size_t k_per = 32;
  static const std::string sql = [] {
    std::string s = "INSERT INTO readings(meter_id, t, value, sharp, peak, flat, valley, power, flags) VALUES ";
    for (std::size_t k = 0; k < k_per; ++k) s += k ? ",(?,?,?,?,?,?,?,?,?)" : "(?,?,?,?,?,?,?,?,?)";
    return s;
  }();
  std::size_t i = 0;
  if (rows.size() >= k_per) {
    auto& st = db.cached(sql);
    for (; i + k_per <= rows.size(); i += k_per) {
      for (std::size_t k = 0; k < k_per; ++k) {
        const auto& [meter_id, r] = rows[i + k];
        const int b = static_cast<int>(k * 9);
        st.bind(b + 1, meter_id).bind(b + 2, r.t).bind(b + 3, r.value).bind(b + 4, r.sharp).bind(b + 5, r.peak);
        st.bind(b + 6, r.flat).bind(b + 7, r.valley).bind(b + 8, r.power).bind(b + 9, r.flags);
      }
      st.run();
    }
  }
  for (; i < rows.size(); ++i) insert_row(db, rows[i].first, rows[i].second);
  rows.clear();
}

void insert_block(storage::Database& db, std::int64_t meter_id, const BlockEncoder& e, bool thinned) {
  auto& st = db.cached("INSERT INTO reading_blocks(meter_id, t0, t1, n, thinned, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  st.bind_all(meter_id, e.first_time(), e.last_time(), static_cast<std::int64_t>(e.count()), thinned ? 1 : 0);
  st.bind_blob(6, e.data().data(), e.data().size());
  st.run();
}

BlockWriter::BlockWriter(storage::Database& db) : m_db(db) { m_db.add_deferred(this); }

BlockWriter::~BlockWriter() { m_db.remove_deferred(this); }

void BlockWriter::add(std::int64_t meter_id, const Reading& r) {
  BlockEncoder& e = m_open[meter_id];
  if (e.count() > 0 && e.size_if_added(r) > k_block_bytes) write(meter_id, e);
  e.add(r);
}

void BlockWriter::write(std::int64_t meter_id, BlockEncoder& e) {
  if (e.count() == 0) return;
  insert_block(m_db, meter_id, e);
  ++m_blocks;
  e.clear();
}

void BlockWriter::finish() {
  for (auto& [meter_id, e] : m_open) write(meter_id, e);
}

std::optional<Reading> latest(storage::Database& db, std::int64_t meter_id) {
  std::optional<Reading> out;
  // Rows are newer than any block of the meter when it has both, except when an import's
  // blocks came after them: take the later of the two.
  auto& rows = db.cached(fmt::format("SELECT {} FROM readings WHERE meter_id = ?1 ORDER BY t DESC LIMIT 1",
                                     k_row_columns));
  rows.bind(1, meter_id);
  if (rows.step()) out = read_row(rows, 0);
  rows.reset();
  auto& blocks = db.cached("SELECT t0, t1, data FROM reading_blocks WHERE meter_id = ?1 ORDER BY t0 DESC LIMIT 1");
  blocks.bind(1, meter_id);
  if (blocks.step() && (!out || blocks.get_int(1) > out->t)) {
    std::string buffer;
    BlockDecoder d(blob(blocks, 2, buffer));
    Reading r, last;
    bool got = false;
    while (d.next(r)) last = r, got = true;
    if (d.failed() || !got) damaged(meter_id, blocks.get_int(0));
    out = last;
  }
  blocks.reset();
  return out;
}

std::optional<Reading> at(storage::Database& db, std::int64_t meter_id, UnixTime t) {
  auto r = at_or_before(db, meter_id, t);
  if (r && r->t == t) return r;
  return std::nullopt;
}

std::optional<Reading> at_or_before(storage::Database& db, std::int64_t meter_id, UnixTime t) {
  std::optional<Reading> out;
  auto& rows = db.cached(fmt::format("SELECT {} FROM readings WHERE t <= ?2 AND meter_id = ?1 ORDER BY t DESC LIMIT 1",
                                     k_row_columns));
  rows.bind_all(meter_id, t);
  if (rows.step()) out = read_row(rows, 0);
  rows.reset();
  if (out && out->t == t) return out;
  auto& blocks = db.cached("SELECT t0, t1, data FROM reading_blocks WHERE meter_id = ?1 AND t0 <= ?2 "
                           "ORDER BY t0 DESC LIMIT 1");
  blocks.bind_all(meter_id, t);
  if (blocks.step() && (!out || blocks.get_int(1) > out->t)) {
    std::string buffer;
    BlockDecoder d(blob(blocks, 2, buffer));
    Reading r;
    while (d.next(r) && r.t <= t)
      if (!out || r.t > out->t) out = r;
    if (d.failed()) damaged(meter_id, blocks.get_int(0));
  }
  blocks.reset();
  return out;
}

bool any(storage::Database& db, std::int64_t meter_id) {
  auto& st = db.cached("SELECT EXISTS(SELECT 1 FROM reading_blocks WHERE meter_id = ?1) OR "
                       "EXISTS(SELECT 1 FROM readings WHERE meter_id = ?1)");
  st.bind(1, meter_id);
  st.step();
  bool found = st.get_int(0) != 0;
  st.reset();
  return found;
}

RecentRows::RecentRows(storage::Database& db, UnixTime from, UnixTime to) {
  auto st = db.prepare(fmt::format("SELECT meter_id, {} FROM readings WHERE t >= ?1 AND t < ?2 ORDER BY t", k_row_columns));
  st.bind_all(from, to);
  while (st.step()) m_rows[st.get_int(0)].push_back(read_row(st, 1));
}

const std::vector<Reading>& RecentRows::of(std::int64_t meter_id) const {
  auto it = m_rows.find(meter_id);
  return it == m_rows.end() ? m_none : it->second;
}

void scan(storage::Database& db, std::int64_t meter_id, UnixTime from, UnixTime to,
          const std::function<bool(const Reading&)>& fn, const RecentRows* recent) {
  if (to <= from) return;
  // The rows of the range first (recent, so few), then the blocks, merged by time.
  std::vector<Reading> rows;
  if (recent) {
    for (const auto& r : recent->of(meter_id))
      if (r.t >= from && r.t < to) rows.push_back(r);
  } else {
    auto st = db.prepare(fmt::format("SELECT {} FROM readings WHERE t >= ?2 AND t < ?3 AND meter_id = ?1 ORDER BY t",
                                     k_row_columns));
    st.bind_all(meter_id, from, to);
    while (st.step()) rows.push_back(read_row(st, 0));
  }
  std::size_t next_row = 0;
  auto rows_until = [&](UnixTime limit) { // rows with t < limit; false when fn stopped
    while (next_row < rows.size() && rows[next_row].t < limit)
      if (!fn(rows[next_row++])) return false;
    return true;
  };
  auto st = db.prepare("SELECT t0, t1, data FROM reading_blocks WHERE meter_id = ?1 AND t0 >= coalesce((SELECT max(t0) "
                       "FROM reading_blocks WHERE meter_id = ?1 AND t0 <= ?2), ?2) AND t0 < ?3 ORDER BY t0");
  st.bind_all(meter_id, from, to);
  std::string buffer;
  while (st.step()) {
    const UnixTime t0 = st.get_int(0);
    if (!rows_until(t0)) return;
    BlockDecoder d(blob(st, 2, buffer));
    Reading r;
    while (d.next(r)) {
      if (r.t < from) continue;
      if (r.t >= to) break;
      if (!rows_until(r.t) || !fn(r)) return;
    }
    if (d.failed()) damaged(meter_id, t0);
  }
  rows_until(std::numeric_limits<UnixTime>::max());
}

std::int64_t count(storage::Database& db, std::optional<std::int64_t> meter_id) {
  auto st = db.prepare("SELECT (SELECT coalesce(sum(n), 0) FROM reading_blocks WHERE ?1 IS NULL OR meter_id = ?1) + "
                       "(SELECT count(*) FROM readings WHERE ?1 IS NULL OR meter_id = ?1)");
  st.bind(1, meter_id);
  st.step();
  return st.get_int(0);
}

} // namespace kwh::readings
