#pragma once
// Where readings are stored: two tiers in one SQLite file.
//
// - Recent readings are rows of `readings`, keyed by (t, meter_id): a poll cycle's rows all go
//   to the end of the table, so a commit writes a few pages however many meters were read.
//   kwhd writes here, one row a reading.
// - Older ones are packed into `reading_blocks`, keyed by (meter_id, t0): one meter's readings
//   delta-encoded (codec.hpp), about 6 bytes each instead of about 40. kwhd moves rows there
//   once they are an hour old (compact()); `kwh reading import` writes blocks directly.
//
// A meter's readings never overlap between the tiers (each new reading is after all of the
// meter's stored ones), so reading them back is a merge by time. Everything here runs in the
// caller's transaction.

#include <kwh/readings/codec.hpp>
#include <kwh/storage/database.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>

namespace kwh::readings {

// A block's encoded readings stay under this, so that a block row fits in its b-tree page
// without overflow pages (SQLite keeps up to about 1 000 bytes of an index record local).
inline constexpr std::size_t k_block_bytes = 960;

// A reading from a statement's columns t, value, sharp, peak, flat, valley, power, flags
// (starting at column `first`): a recent row, or version 3's.
Reading read_row(const storage::Statement& st, int first);

// Stores one reading as a recent row.
void insert_row(storage::Database& db, std::int64_t meter_id, const Reading& r);
// Stores many, in key order, several rows a statement (kwhd's writer buffers a transaction's).
using MeterReading = std::pair<std::int64_t, Reading>;
void insert_rows(storage::Database& db, std::vector<MeterReading>& rows);

// Packs readings into blocks, per meter, as they come (each meter's in increasing time): a
// meter's block is written when full, the rest when the transaction commits (it is a
// storage::Deferred) or at finish().
class BlockWriter final : public storage::Deferred {
public:
  explicit BlockWriter(storage::Database& db);
  ~BlockWriter();
  BlockWriter(const BlockWriter&) = delete;
  BlockWriter& operator=(const BlockWriter&) = delete;

  void add(std::int64_t meter_id, const Reading& r);
  void finish();
  std::uint64_t blocks_written() const { return m_blocks; }

  void flush() override { finish(); }
  void discard() override { m_open.clear(); }

private:
  void write(std::int64_t meter_id, BlockEncoder& e);
  storage::Database& m_db;
  std::unordered_map<std::int64_t, BlockEncoder> m_open;
  std::uint64_t m_blocks = 0;
};

// Writes one block of a meter's readings (already encoded).
void insert_block(storage::Database& db, std::int64_t meter_id, const BlockEncoder& e, bool thinned = false);

// The meter's newest reading, its reading at exactly t, and its newest at or before t.
std::optional<Reading> latest(storage::Database& db, std::int64_t meter_id);
std::optional<Reading> at(storage::Database& db, std::int64_t meter_id, UnixTime t);
std::optional<Reading> at_or_before(storage::Database& db, std::int64_t meter_id, UnixTime t);
// Whether the meter has any reading.
bool any(storage::Database& db, std::int64_t meter_id);

// The recent rows of every meter with from <= t < to, read once, for a caller that scans many
// meters (the recent tier is ordered by time, not by meter).
class RecentRows {
public:
  RecentRows(storage::Database& db, UnixTime from, UnixTime to);
  const std::vector<Reading>& of(std::int64_t meter_id) const;

private:
  std::unordered_map<std::int64_t, std::vector<Reading>> m_rows;
  std::vector<Reading> m_none;
};

// Calls fn with each of the meter's readings with from <= t < to, in time order, until it
// returns false. `recent`: the rows of a range covering [from, to), read already. Error(failed)
// for a block that does not decode.
void scan(storage::Database& db, std::int64_t meter_id, UnixTime from, UnixTime to,
          const std::function<bool(const Reading&)>& fn, const RecentRows* recent = nullptr);

// Readings stored, in both tiers (all meters, or one).
std::int64_t count(storage::Database& db, std::optional<std::int64_t> meter_id = {});

} // namespace kwh::readings
