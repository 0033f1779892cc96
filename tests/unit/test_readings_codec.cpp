#include <doctest/doctest.h>

#include <kwh/readings/codec.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

using kwh::readings::BlockDecoder;
using kwh::readings::BlockEncoder;
using kwh::readings::decode_block;
using kwh::readings::Reading;

namespace {

constexpr std::int64_t k_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t k_max = std::numeric_limits<std::int64_t>::max();

std::string encode(const std::vector<Reading>& readings) {
  BlockEncoder e;
  for (const auto& r : readings) e.add(r);
  return std::string(e.data());
}

std::string bytes(std::initializer_list<unsigned> list) {
  std::string s;
  for (unsigned b : list) s.push_back(static_cast<char>(b));
  return s;
}

// A reading that decode_block must never append: it shows that out was left as it was.
Reading sentinel() {
  Reading r;
  r.t = 12345;
  r.value = -1;
  r.power = 7;
  return r;
}

// decode_block fails, leaves out as it was, and the streaming decoder reports failed().
void check_rejected(const std::string& data) {
  std::vector<Reading> out = {sentinel()};
  CHECK_FALSE(decode_block(data, out));
  REQUIRE(out.size() == 1);
  CHECK(out[0] == sentinel());
  BlockDecoder d(data);
  Reading r;
  while (d.next(r)) {
  }
  CHECK(d.failed());
  CHECK_FALSE(d.next(r));
}

// Random readings that stress the format: small and huge values, every presence combination,
// counter resets, the int64 limits, all flags.
class RandomReadings {
public:
  explicit RandomReadings(std::uint64_t seed) : m_rng(seed) {}

  std::vector<Reading> block(std::size_t n) {
    std::vector<Reading> out;
    Reading r;
    for (std::size_t i = 0; i < n; ++i) {
      if (i == 0) {
        r.t = number();
      } else {
        // The gap must be positive, fit in int64 and not pass INT64_MAX.
        std::uint64_t room = static_cast<std::uint64_t>(k_max) - static_cast<std::uint64_t>(r.t);
        if (room == 0) break;
        if (room > static_cast<std::uint64_t>(k_max)) room = static_cast<std::uint64_t>(k_max);
        const std::uint64_t gap = 1 + (pick(4) == 0 ? m_rng() % room : m_rng() % std::min<std::uint64_t>(room, 3600));
        r.t = static_cast<std::int64_t>(static_cast<std::uint64_t>(r.t) + gap);
      }
      const std::int64_t previous_value = r.value;
      r.value = step(r.value);
      const unsigned presence = static_cast<unsigned>(m_rng());
      std::optional<std::int64_t>* bands[4] = {&r.sharp, &r.peak, &r.flat, &r.valley};
      const bool time_of_use = pick(3) == 0;
      for (unsigned b = 0; b < 4; ++b) {
        if (time_of_use && (presence & (1u << b)) && *bands[b]) continue; // kept as it was
        optional_step(*bands[b], presence & (1u << b));
      }
      // As a time-of-use meter does: one band moves with the total, the others stay.
      if (time_of_use) {
        auto& band = *bands[pick(4)];
        if (band)
          band = static_cast<std::int64_t>(static_cast<std::uint64_t>(*band) + static_cast<std::uint64_t>(r.value) -
                                           static_cast<std::uint64_t>(previous_value));
      }
      optional_step(r.power, presence & 16);
      r.flags = static_cast<int>(pick(4));
      out.push_back(r);
    }
    return out;
  }

private:
  std::uint64_t pick(std::uint64_t n) { return m_rng() % n; }

  std::int64_t number() {
    switch (pick(6)) {
    case 0: return k_min;
    case 1: return k_max;
    case 2: return static_cast<std::int64_t>(m_rng());
    case 3: return -static_cast<std::int64_t>(pick(1000));
    default: return static_cast<std::int64_t>(pick(1'000'000'000));
    }
  }

  // Mostly a small increase; sometimes a reset to anything, sometimes no change.
  std::int64_t step(std::int64_t v) {
    switch (pick(8)) {
    case 0: return number();
    case 1: return v;
    case 2: return static_cast<std::int64_t>(static_cast<std::uint64_t>(v) - pick(100));
    default: return static_cast<std::int64_t>(static_cast<std::uint64_t>(v) + pick(100));
    }
  }

  void optional_step(std::optional<std::int64_t>& o, unsigned present) {
    if (!present)
      o.reset();
    else
      o = o ? step(*o) : number();
  }

  std::mt19937_64 m_rng;
};

} // namespace

TEST_CASE("Readings codec: random blocks round-trip exactly") {
  RandomReadings gen(20260301);
  for (int i = 0; i < 3000; ++i) {
    const auto readings = gen.block(static_cast<std::size_t>(i % 40));
    BlockEncoder e;
    for (const auto& r : readings) e.add(r);
    REQUIRE(e.count() == readings.size());
    if (!readings.empty()) {
      CHECK(e.first_time() == readings.front().t);
      CHECK(e.last_time() == readings.back().t);
    }

    std::vector<Reading> out;
    REQUIRE(decode_block(e.data(), out));
    REQUIRE(out == readings);

    BlockDecoder d(e.data());
    Reading r;
    std::size_t n = 0;
    while (d.next(r)) REQUIRE(r == readings[n++]);
    CHECK(n == readings.size());
    CHECK_FALSE(d.failed());
  }
}

TEST_CASE("Readings codec: the int64 limits and absent values round-trip") {
  Reading a;
  a.t = k_min;
  a.value = k_max;
  a.sharp = k_min;
  a.power = k_max;
  a.flags = kwh::readings::k_flag_imported | kwh::readings::k_flag_baseline;
  Reading b;
  b.t = -1; // a gap of exactly INT64_MAX
  b.value = k_min;
  b.sharp = k_max;
  b.valley = k_min;
  Reading c;
  c.t = k_max - 1; // again a gap of INT64_MAX
  c.value = 0;
  c.valley = k_min; // unchanged; absent power and sharp kept their bases
  Reading d;
  d.t = k_max;
  d.value = k_min;
  d.sharp = k_max;
  d.power = k_min;
  const std::vector<Reading> readings = {a, b, c, d};
  std::vector<Reading> out;
  REQUIRE(decode_block(encode(readings), out));
  CHECK(out == readings);
}

TEST_CASE("Readings codec: a single reading and an empty block") {
  Reading r;
  r.t = 1'790'000'000;
  r.value = 123'456;
  std::vector<Reading> out;
  REQUIRE(decode_block(encode({r}), out));
  REQUIRE(out.size() == 1);
  CHECK(out[0] == r);

  out = {sentinel()};
  CHECK(decode_block("", out));
  CHECK(out.size() == 1);
  BlockDecoder d("");
  CHECK_FALSE(d.next(r));
  CHECK_FALSE(d.failed());

  BlockEncoder e;
  CHECK(e.data().empty());
  CHECK(e.count() == 0);
}

TEST_CASE("Readings codec: clear() starts a new block from the initial state") {
  Reading r;
  r.t = 600;
  r.value = 5;
  BlockEncoder e;
  e.add(r);
  const std::string once(e.data());
  e.clear();
  CHECK(e.count() == 0);
  e.add(r);
  CHECK(e.data() == once);
}

TEST_CASE("Readings codec: one band moving with the total costs only the byte c") {
  Reading r;
  r.t = 60;
  r.value = 1000;
  r.sharp = 100;
  r.peak = 400;
  r.flat = 300;
  r.valley = 200;
  std::vector<Reading> readings = {r};
  for (int i = 0; i < 2; ++i) {
    r.t += 60;
    r.value += 50;
    *r.peak += 50;
    readings.push_back(r);
  }
  const std::string expected =
      // All four bands present; t 60 (zigzag 120); value 1000 (zigzag 2000 = 0x50 | 15 << 7);
      // all four changed from 0, each with its varint: zigzag 200, 800, 600, 400.
      bytes({0x0f, 0x78, 0xd0, 0x0f, 0x0f, 0xc8, 0x01, 0xa0, 0x06, 0xd8, 0x04, 0x90, 0x03}) +
      // t +60; value +50 (zigzag 100); c = peak changed, implied: no band varint.
      bytes({0x0f, 0x78, 0x64, 0x12}) + bytes({0x0f, 0x78, 0x64, 0x12});
  const std::string data = encode(readings);
  CHECK(data.size() == 21);
  CHECK(data == expected);
  std::vector<Reading> out;
  REQUIRE(decode_block(data, out));
  CHECK(out == readings);
}

TEST_CASE("Readings codec: a realistic day takes at most 8 bytes per reading") {
  // 1 440 minute readings at 2..4 kW with noise; the band of the hour (valley at night, flat in
  // the morning and afternoon, peak at midday, sharp in the evening) moves with the total.
  std::mt19937_64 rng(42);
  constexpr int k_band_of_hour[24] = {3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 2, 3, 3};
  Reading r;
  r.t = 1'790'000'000;
  r.value = 12'345'678;
  r.sharp = 2'000'000;
  r.peak = 3'000'000;
  r.flat = 4'000'000;
  r.valley = 3'345'678;
  double energy = static_cast<double>(r.value);
  double load = 3000;
  BlockEncoder e;
  for (int minute = 0; minute < 1440; ++minute) {
    load += static_cast<double>(rng() % 401) - 200;
    load = std::clamp(load, 2000.0, 4000.0);
    const double noise = static_cast<double>(rng() % 101) - 50;
    r.power = static_cast<std::int64_t>(load + noise);
    energy += static_cast<double>(*r.power) / 60;
    const auto total = static_cast<std::int64_t>(energy);
    const std::int64_t delta = total - r.value;
    r.value = total;
    std::optional<std::int64_t>* bands[4] = {&r.sharp, &r.peak, &r.flat, &r.valley};
    **bands[k_band_of_hour[minute / 60]] += delta;
    if (minute > 0) r.t += 60;
    e.add(r);
  }
  const double per_reading = static_cast<double>(e.data().size()) / static_cast<double>(e.count());
  MESSAGE("realistic day: " << e.data().size() << " bytes for " << e.count() << " readings, " << per_reading
                            << " bytes per reading");
  CHECK(per_reading <= 8.0);
}

TEST_CASE("Readings codec: size_if_added is the size after add") {
  RandomReadings gen(7);
  for (int i = 0; i < 200; ++i) {
    BlockEncoder e;
    for (const auto& r : gen.block(30)) {
      const std::size_t predicted = e.size_if_added(r);
      e.add(r);
      REQUIRE(predicted == e.data().size());
    }
  }
}

TEST_CASE("Readings codec: a truncated block decodes to a prefix at a record boundary and fails elsewhere") {
  RandomReadings gen(99);
  const auto readings = gen.block(25);
  REQUIRE(readings.size() > 10);
  BlockEncoder e;
  std::vector<std::size_t> boundaries = {0};
  for (const auto& r : readings) {
    e.add(r);
    boundaries.push_back(e.data().size());
  }
  const std::string data(e.data());
  std::size_t records = 0;
  for (std::size_t cut = 0; cut <= data.size(); ++cut) {
    const std::string part = data.substr(0, cut);
    if (records + 1 < boundaries.size() && cut == boundaries[records + 1]) ++records;
    if (cut == boundaries[records]) {
      std::vector<Reading> out;
      REQUIRE(decode_block(part, out));
      CHECK(out == std::vector<Reading>(readings.begin(), readings.begin() + static_cast<std::ptrdiff_t>(records)));
    } else {
      check_rejected(part);
    }
  }
}

TEST_CASE("Readings codec: malformed records are rejected") {
  SUBCASE("bit 7 of head") {
    Reading a, b;
    a.t = 60;
    b.t = 120;
    std::string data = encode({a, b});
    REQUIRE(data.size() == 6);
    data[3] = static_cast<char>(0x80);
    check_rejected(data);
    check_rejected(bytes({0x80, 0x00, 0x00}));
  }
  SUBCASE("a zero, negative or wrapping time delta after the first record") {
    check_rejected(bytes({0x00, 0x78, 0x00, 0x00, 0x00, 0x00}));
    check_rejected(bytes({0x00, 0x78, 0x00, 0x00, 0x01, 0x00}));
    // t = INT64_MAX, then +1.
    check_rejected(bytes({0x00, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00, 0x02, 0x00}));
    std::vector<Reading> out;
    CHECK(decode_block(bytes({0x00, 0x00, 0x00}), out)); // the first record may be at t = 0
    CHECK(decode_block(bytes({0x00, 0x01, 0x00}), out)); // or before it
  }
  SUBCASE("varints longer than 64 bits") {
    // Zigzag 2^64 - 1 (INT64_MIN) takes all 10 bytes, the last holding only bit 63.
    std::vector<Reading> out;
    REQUIRE(decode_block(bytes({0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00}), out));
    CHECK(out.back().t == k_min);
    check_rejected(bytes({0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00}));
    check_rejected(bytes({0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00}));
  }
  SUBCASE("c naming bands that are not present, or reserved bits") {
    check_rejected(bytes({0x01, 0x00, 0x00, 0x02, 0x02}));
    check_rejected(bytes({0x01, 0x00, 0x00, 0x20}));
    check_rejected(bytes({0x01, 0x00, 0x00, 0x80}));
  }
  SUBCASE("implied with other than exactly one changed band") {
    check_rejected(bytes({0x03, 0x00, 0x02, 0x13}));
    check_rejected(bytes({0x03, 0x00, 0x02, 0x10}));
    std::vector<Reading> out;
    REQUIRE(decode_block(bytes({0x03, 0x00, 0x02, 0x12}), out));
    CHECK(out.back().value == 1);
    CHECK(out.back().peak == 1);
    CHECK(out.back().sharp == 0);
  }
  SUBCASE("a record cut inside c or the power varint") {
    check_rejected(bytes({0x01, 0x00, 0x00}));
    check_rejected(bytes({0x10, 0x00, 0x00}));
    check_rejected(bytes({0x10, 0x00, 0x00, 0x80}));
  }
}

TEST_CASE("Readings codec: the decoder stops for good after malformed input") {
  Reading a, b;
  a.t = 60;
  b.t = 120;
  const std::string data = encode({a, b}) + bytes({0x80}) + encode({a});
  BlockDecoder d(data);
  Reading r;
  CHECK(d.next(r));
  CHECK(d.next(r));
  CHECK(r == b);
  CHECK_FALSE(d.next(r));
  CHECK(r == b); // out untouched by the malformed record
  CHECK(d.failed());
  CHECK_FALSE(d.next(r));
}
