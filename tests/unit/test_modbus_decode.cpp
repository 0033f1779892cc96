#include <doctest/doctest.h>

#include <kwh/modbus/value.hpp>
#include <kwh/util/error.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace kwh;
using namespace kwh::modbus;

namespace {

ValueSpec spec(ValueType type, double scale = 1, const char* name = "energy_total") {
  ValueSpec s;
  s.name = name;
  s.table = Table::holding;
  s.type = type;
  s.scale = scale;
  return s;
}

using Words = std::vector<std::uint16_t>;

std::optional<Value> dec(ValueType type, Words w, WordOrder order = WordOrder::big, double scale = 1) {
  return decode(spec(type, scale), w, order);
}

Words reversed(Words w) { return Words(w.rbegin(), w.rend()); }

} // namespace

TEST_CASE("Decode: every integer type, both word orders") {
  struct Case {
    ValueType type;
    Words big; // high word first
    std::int64_t expected;
  };
  const Case cases[] = {
      {ValueType::u16, {0xFFFE}, 65534},
      {ValueType::i16, {0xFFFE}, -2},
      {ValueType::i16, {0x7FFF}, 32767},
      {ValueType::u32, {0x0012, 0xD687}, 1234567},
      {ValueType::u32, {0xFFFF, 0xFFFF}, 4294967295LL},
      {ValueType::i32, {0xFFFF, 0xFFFF}, -1},
      {ValueType::i32, {0x8000, 0x0000}, -2147483648LL},
      {ValueType::u64, {0x0001, 0x0002, 0x0003, 0x0004}, 0x0001000200030004LL},
      {ValueType::i64, {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE}, -2},
      {ValueType::i64, {0x8000, 0, 0, 0}, std::numeric_limits<std::int64_t>::min()},
  };
  for (const auto& c : cases) {
    CAPTURE(to_string(c.type));
    CAPTURE(c.expected);
    auto big = dec(c.type, c.big, WordOrder::big);
    REQUIRE(big);
    CHECK(big->integer == c.expected);
    CHECK(big->real == static_cast<double>(c.expected));
    CHECK(big->name == "energy_total");
    auto little = dec(c.type, reversed(c.big), WordOrder::little);
    REQUIRE(little);
    CHECK(little->integer == c.expected);
    CHECK(*decode_raw(spec(c.type), c.big, WordOrder::big) == static_cast<double>(c.expected));
  }
}

TEST_CASE("Decode: floats, both word orders, and NaN or infinity is missing, not zero") {
  float f = 1234.5f;
  std::uint32_t bits;
  std::memcpy(&bits, &f, 4);
  Words big{static_cast<std::uint16_t>(bits >> 16), static_cast<std::uint16_t>(bits)};
  CHECK(dec(ValueType::f32, big)->real == 1234.5);
  CHECK(dec(ValueType::f32, reversed(big), WordOrder::little)->real == 1234.5);
  CHECK(dec(ValueType::f32, big, WordOrder::big, 1000)->integer == 1234500);

  double d = -0.001;
  std::uint64_t b64;
  std::memcpy(&b64, &d, 8);
  Words big64{static_cast<std::uint16_t>(b64 >> 48), static_cast<std::uint16_t>(b64 >> 32),
              static_cast<std::uint16_t>(b64 >> 16), static_cast<std::uint16_t>(b64)};
  CHECK(dec(ValueType::f64, big64)->real == -0.001);
  CHECK(dec(ValueType::f64, reversed(big64), WordOrder::little)->real == -0.001);
  CHECK(dec(ValueType::f64, big64)->integer == 0);

  CHECK_FALSE(dec(ValueType::f32, {0x7FC0, 0x0000}));             // NaN
  CHECK_FALSE(dec(ValueType::f32, {0x7F80, 0x0000}));             // +inf
  CHECK_FALSE(dec(ValueType::f32, {0xFF80, 0x0000}));             // -inf
  CHECK_FALSE(dec(ValueType::f64, {0x7FF8, 0, 0, 0}));            // NaN
  CHECK_FALSE(decode_raw(spec(ValueType::f32), Words{0x7FC0, 0}, WordOrder::big));
  // Finite raw, infinite once scaled.
  CHECK_FALSE(dec(ValueType::f32, {0x7F7F, 0xFFFF}, WordOrder::big, 1e300));
}

TEST_CASE("Decode: energy is an exact integer of Wh, without floating point in between") {
  // 1234567 × 0.01 kWh = 12345670 Wh exactly.
  auto v = dec(ValueType::u32, {0x0012, 0xD687}, WordOrder::big, 10);
  CHECK(v->integer == 12345670);
  CHECK(v->real == 12345670.0);
  // A counter beyond 2^53, where doubles lose units: 2^62 + 1 with scale 1 and scale 10.
  Words big{0x4000, 0x0000, 0x0000, 0x0001};
  CHECK(dec(ValueType::u64, big)->integer == (std::int64_t{1} << 62) + 1);
  CHECK(dec(ValueType::i64, {0x0CCC, 0xCCCC, 0xCCCC, 0xCCCC}, WordOrder::big, 10)->integer ==
        std::int64_t{9223372036854775800});
  // Too big for int64: the real is there, the integer is not.
  auto huge = dec(ValueType::u64, {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF});
  REQUIRE(huge);
  CHECK_FALSE(huge->integer);
  CHECK(huge->real == doctest::Approx(18446744073709551615.0));
  // An energy counter in 0.1 Wh would be scale 0.1; half a Wh rounds away from zero.
  CHECK(dec(ValueType::u32, {0, 15}, WordOrder::big, 0.1)->integer == 2);
  CHECK(dec(ValueType::u32, {0, 14}, WordOrder::big, 0.1)->integer == 1);
  CHECK(dec(ValueType::i32, {0xFFFF, 0xFFF1}, WordOrder::big, 0.1)->integer == -2); // -1.5
  CHECK(dec(ValueType::i32, {0xFFFF, 0xFFF1}, WordOrder::big, 0.1)->real == -1.5);
  // 0.01: the decimal the author wrote, not the nearest double. 123456789 × 0.01 = 1234567.89.
  auto cents = dec(ValueType::u32, {0x075B, 0xCD15}, WordOrder::big, 0.01);
  CHECK(cents->integer == 1234568);
  CHECK(cents->real == 1234567.89);
  // 0.005 × 1 = 0.005 → 0; × 100 = 0.5 → 1; a binary-inexact scale still rounds exactly.
  CHECK(dec(ValueType::u16, {1}, WordOrder::big, 0.005)->integer == 0);
  CHECK(dec(ValueType::u16, {100}, WordOrder::big, 0.005)->integer == 1);
  CHECK(dec(ValueType::u16, {2301}, WordOrder::big, 0.1)->real == 230.1);
  // A float energy register in kWh rounds to the nearest Wh.
  float kwh = 1234.567f;
  std::uint32_t bits;
  std::memcpy(&bits, &kwh, 4);
  CHECK(dec(ValueType::f32, {static_cast<std::uint16_t>(bits >> 16), static_cast<std::uint16_t>(bits)},
            WordOrder::big, 1000)
            ->integer == 1234567);
}

TEST_CASE("Decode: scale turns raw into canonical units; negative scales invert") {
  CHECK(dec(ValueType::u16, {2205}, WordOrder::big, 0.1)->real == doctest::Approx(220.5));
  CHECK(dec(ValueType::i16, {static_cast<std::uint16_t>(-950)}, WordOrder::big, 0.001)->real == doctest::Approx(-0.95));
  CHECK(dec(ValueType::u16, {7}, WordOrder::big, 1e-20)->integer == 0); // beyond an exact decimal
  CHECK(dec(ValueType::u16, {7}, WordOrder::big, -2)->integer == -14);
}

TEST_CASE("Decode: the wrong number of words is missing; coils are bits") {
  CHECK_FALSE(dec(ValueType::u32, {1}));
  CHECK_FALSE(dec(ValueType::u16, {1, 2}));
  CHECK_FALSE(dec(ValueType::f64, {1, 2, 3}));
  CHECK_FALSE(dec(ValueType::u16, {}));
  ValueSpec coil = spec(ValueType::u16, 1, "valve");
  coil.table = Table::coil;
  CHECK(decode(coil, Words{0}, WordOrder::big)->integer == 0);
  CHECK(decode(coil, Words{1}, WordOrder::big)->integer == 1);
  CHECK(decode(coil, Words{0xFF00}, WordOrder::big)->integer == 1);
  CHECK(encode(coil, 1, WordOrder::big) == Words{1});
  CHECK_THROWS_AS(encode(coil, 2, WordOrder::big), Error);
}

TEST_CASE("Encode: the simulator's words decode to what it meant") {
  CHECK(encode_integer(spec(ValueType::u32, 10), 12345670, WordOrder::big) == Words{0x0012, 0xD687});
  CHECK(encode_integer(spec(ValueType::u32, 10), 12345670, WordOrder::little) == Words{0xD687, 0x0012});
  CHECK(encode(spec(ValueType::u32, 10), 12345670.0, WordOrder::big) == Words{0x0012, 0xD687});
  // A meter's resolution: 12345675 Wh in 0.01 kWh rounds half away from zero.
  CHECK(encode_integer(spec(ValueType::u32, 10), 12345675, WordOrder::big) == Words{0x0012, 0xD688});
  CHECK(encode_integer(spec(ValueType::i16, 10), -15, WordOrder::big) == Words{static_cast<std::uint16_t>(-2)});
  CHECK(encode(spec(ValueType::u16, 0.1), 230.1, WordOrder::big) == Words{2301});
  CHECK(encode(spec(ValueType::i16, 0.001), -0.95, WordOrder::big) == Words{static_cast<std::uint16_t>(-950)});

  auto error = [](auto f) {
    try {
      f();
    } catch (const Error& e) {
      return e.code();
    }
    return Exit::ok;
  };
  CHECK(error([] { encode(spec(ValueType::u16), 65536, WordOrder::big); }) == Exit::data);
  CHECK(error([] { encode(spec(ValueType::u16), -1, WordOrder::big); }) == Exit::data);
  CHECK(error([] { encode(spec(ValueType::i16), 40000, WordOrder::big); }) == Exit::data);
  CHECK(error([] { encode(spec(ValueType::u32), std::nan(""), WordOrder::big); }) == Exit::data);
  CHECK(error([] { encode(spec(ValueType::f32), 1e39, WordOrder::big); }) == Exit::data);
  CHECK(error([] { encode(spec(ValueType::u64), 1e30, WordOrder::big); }) == Exit::data);
  CHECK(error([] { encode(spec(ValueType::u16), 65535, WordOrder::big); }) == Exit::ok);
}

TEST_CASE("Encode: decode(encode(x)) == x for every type, both word orders, random values") {
  std::mt19937_64 rng(20261124);
  const ValueType types[] = {ValueType::u16, ValueType::i16, ValueType::u32, ValueType::i32,
                             ValueType::u64, ValueType::i64, ValueType::f32, ValueType::f64};
  for (auto type : types) {
    for (auto order : {WordOrder::big, WordOrder::little}) {
      for (double scale : {1.0, 10.0, 0.01, 1000.0}) {
        auto s = spec(type, scale);
        for (int i = 0; i < 200; ++i) {
          // Raw words, decoded, re-encoded: the same words (a lossless round trip).
          Words w(static_cast<std::size_t>(words(type)));
          for (auto& x : w) x = static_cast<std::uint16_t>(rng());
          auto v = decode(s, w, order);
          if (!v) continue; // NaN words
          CAPTURE(to_string(type));
          CAPTURE(scale);
          if (type == ValueType::f32 || type == ValueType::f64) {
            auto again = decode(s, encode(s, v->real, order), order);
            REQUIRE(again);
            CHECK(again->real == doctest::Approx(v->real).epsilon(1e-12));
          } else if (v->integer) {
            // Integer scale: the canonical integer is a multiple of it, so the words come back.
            if (scale >= 1) CHECK(encode_integer(s, *v->integer, order) == w);
            // Where a double holds the raw number with room to spare, encode(real) is exact too.
            if (std::fabs(v->real / scale) < 1e12) CHECK(encode(s, v->real, order) == w);
          }
        }
      }
    }
  }
}
