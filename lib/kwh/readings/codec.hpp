#pragma once
// The block codec for stored meter readings: many readings of one meter in one compact byte
// string, so that a year of minute readings of a site fits in a few GB instead of one database
// row per reading. Pure functions over bytes; the database side keeps the blocks elsewhere.
//
// Format, version 1
// -----------------
// A block is a sequence of records, one per reading, in strictly increasing time. All
// arithmetic is wrapping modulo 2^64 (differences are taken as uint64_t and reinterpreted), so
// no input can overflow and every int64 round-trips.
//
// A varint is a zigzag-encoded signed 64-bit number written as LEB128: 7 bits per byte, low
// groups first, the high bit set when more bytes follow. It takes at most 10 bytes; a decoder
// rejects longer ones and a 10th byte with bits that do not fit in 64 bits.
//
// Both sides keep the state of the block, which starts at time 0, value 0, each band base 0 and
// power base 0. Each record is:
//   1. head byte: bits 0..3 = sharp, peak, flat, valley present; bit 4 = power present;
//      bit 5 = flag imported; bit 6 = flag baseline; bit 7 is 0.
//   2. varint of t - previous t. For every record but the first it is > 0 and the new time does
//      not pass INT64_MAX. The first is against 0, so it carries t itself.
//   3. varint of value - previous value.
//   4. Only when a band is present: byte c, bits 0..3 = which bands changed (delta against the
//      band's base is not 0), a subset of the present ones; bit 4 = implied, set exactly when
//      one single band changed by the same delta as the value in step 3 (then that band's
//      varint is left out); bits 5..7 are 0. Then, in the order sharp, peak, flat, valley, the
//      varint of each changed band's delta unless it is implied.
//   5. Only when power is present: varint of power - power base.
// Then the state takes the record's time and value, each present band's value as that band's
// base and, when present, its power as the power base. Absent values leave their bases alone.
//
// The encoder always uses the implied form where it applies, so encoding is deterministic. A
// typical minute reading (one time-of-use band moving with the total, power present) takes 5
// or 6 bytes.

#include <kwh/util/time.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kwh::readings {

inline constexpr int k_flag_imported = 1;
// The first reading after a counter reset or a meter swap; deltas across it are not consumption.
inline constexpr int k_flag_baseline = 2;

// One stored reading of a meter, in canonical units.
struct Reading {
  UnixTime t = 0;
  std::int64_t value = 0; // energy_total (Wh) or volume_total (litres)
  // Per-band registers (Wh), when the meter's profile reads them.
  std::optional<std::int64_t> sharp, peak, flat, valley;
  std::optional<std::int64_t> power; // power_total (W), when read
  int flags = 0;                     // k_flag_imported | k_flag_baseline

  bool operator==(const Reading&) const = default;
};

// The running bases of a block, the same on the encoding and the decoding side. Held as
// unsigned numbers because every delta is taken modulo 2^64.
struct BlockState {
  std::uint64_t t = 0;
  std::uint64_t value = 0;
  std::array<std::uint64_t, 4> band{}; // sharp, peak, flat, valley
  std::uint64_t power = 0;
};

// Builds the block of one meter from its readings in strictly increasing time. Reuse one
// encoder for many blocks with clear(): its buffer keeps its capacity.
class BlockEncoder {
public:
  void clear();
  // Precondition (asserted in debug builds): r.t is after the previous reading's t by at most
  // INT64_MAX seconds, and r.flags is in 0..3.
  void add(const Reading& r);

  std::string_view data() const { return m_data; }
  std::size_t count() const { return m_count; }
  // Of the readings added; only when count() > 0.
  UnixTime first_time() const;
  UnixTime last_time() const;

  // The size data() would have after add(r), without adding it, so that a caller can close a
  // block before it passes a size limit.
  std::size_t size_if_added(const Reading& r) const;

private:
  std::string m_data;
  std::size_t m_count = 0;
  UnixTime m_first_time = 0;
  BlockState m_state;
};

// Streams the readings of one block. The bytes must outlive the decoder.
class BlockDecoder {
public:
  explicit BlockDecoder(std::string_view data);

  // The next reading; false at the end of the block or on malformed input (then for good),
  // leaving out untouched.
  bool next(Reading& out);
  // True when next() stopped on malformed input rather than at the end.
  bool failed() const { return m_failed; }

private:
  bool decode_record(Reading& out);

  const unsigned char* m_pos;
  const unsigned char* m_end;
  bool m_started = false;
  bool m_failed = false;
  BlockState m_state;
};

// Decodes a whole block, appending its readings to out. On malformed input returns false and
// leaves out as it was.
bool decode_block(std::string_view data, std::vector<Reading>& out);

} // namespace kwh::readings
