#include <kwh/modbus/value.hpp>

#include <kwh/util/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace kwh::modbus {

namespace {

__extension__ typedef __int128 Int128;

constexpr std::int64_t k_pow10[] = {1,
                                    10,
                                    100,
                                    1000,
                                    10000,
                                    100000,
                                    1000000,
                                    10000000,
                                    100000000,
                                    1000000000,
                                    10000000000,
                                    100000000000,
                                    1000000000000,
                                    10000000000000,
                                    100000000000000,
                                    1000000000000000,
                                    10000000000000000,
                                    100000000000000000,
                                    1000000000000000000};

// A scale as an exact decimal fraction num / den (den a power of ten), when it has a short
// decimal form: 10 → 10/1, 0.01 → 1/100, 2.5 → 25/10. The shortest decimal that reads back as
// the same double is what the profile's author wrote, so 0.01 means exactly one hundredth here.
struct Fraction {
  std::int64_t num;
  std::int64_t den;
};

std::optional<Fraction> exact_scale(double scale) {
  if (!std::isfinite(scale) || scale == 0) return std::nullopt;
  auto text = fmt::format("{}", scale); // shortest round-trip form: "10", "0.01", "1e-05", "2.5e+20"
  std::size_t i = 0;
  bool negative = false;
  if (text[i] == '-') {
    negative = true;
    ++i;
  }
  std::int64_t mantissa = 0;
  int exponent = 0;
  int digits = 0;
  bool fraction = false;
  for (; i < text.size() && text[i] != 'e'; ++i) {
    if (text[i] == '.') {
      fraction = true;
      continue;
    }
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    if (++digits > 18) return std::nullopt;
    mantissa = mantissa * 10 + (text[i] - '0');
    if (fraction) --exponent;
  }
  if (i < text.size()) exponent += std::atoi(text.c_str() + i + 1);
  if (negative) mantissa = -mantissa;
  if (exponent < 0) {
    if (-exponent > 18) return std::nullopt;
    return Fraction{mantissa, k_pow10[-exponent]};
  }
  if (exponent > 18) return std::nullopt;
  Int128 num = Int128(mantissa) * k_pow10[exponent];
  if (num > std::numeric_limits<std::int64_t>::max() || num < std::numeric_limits<std::int64_t>::min())
    return std::nullopt;
  return Fraction{static_cast<std::int64_t>(num), 1};
}

// Profiles use a handful of scales, and every value of every poll is decoded with one: their
// fractions are remembered (per thread) so that the poll path does not format a double each.
std::optional<Fraction> scale_fraction(double scale) {
  struct Known {
    double scale;
    std::optional<Fraction> fraction;
  };
  constexpr std::size_t k_slots = 16;
  thread_local Known known[k_slots];
  thread_local std::size_t used = 0, next = 0;
  for (std::size_t i = 0; i < used; ++i)
    if (known[i].scale == scale) return known[i].fraction;
  auto f = exact_scale(scale);
  known[next] = {scale, f};
  next = (next + 1) % k_slots;
  used = std::min(used + 1, k_slots);
  return f;
}

// p / q rounded half away from zero (q > 0).
Int128 divide_rounded(Int128 p, Int128 q) {
  Int128 quotient = p / q, rest = p % q;
  if (rest < 0) rest = -rest;
  if (2 * rest >= q) quotient += p < 0 ? -1 : 1;
  return quotient;
}

std::optional<std::int64_t> to_int64(Int128 v) {
  if (v > std::numeric_limits<std::int64_t>::max() || v < std::numeric_limits<std::int64_t>::min())
    return std::nullopt;
  return static_cast<std::int64_t>(v);
}

std::optional<std::int64_t> to_int64(double v) {
  // 2^63 is exactly representable; every double below it converts without overflow.
  if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0)) return std::nullopt;
  return static_cast<std::int64_t>(v);
}

bool is_float(ValueType t) { return t == ValueType::f32 || t == ValueType::f64; }

// The words as one unsigned number, high word first whatever the order on the wire.
std::uint64_t assemble(std::span<const std::uint16_t> w, WordOrder order) {
  std::uint64_t bits = 0;
  const std::size_t n = w.size();
  for (std::size_t i = 0; i < n; ++i) bits = (bits << 16) | (order == WordOrder::big ? w[i] : w[n - 1 - i]);
  return bits;
}

std::vector<std::uint16_t> split(std::uint64_t bits, int n, WordOrder order) {
  std::vector<std::uint16_t> w(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto word = static_cast<std::uint16_t>(bits >> (16 * (n - 1 - i)));
    w[static_cast<std::size_t>(order == WordOrder::big ? i : n - 1 - i)] = word;
  }
  return w;
}

// The raw integer of an integer type (u64 above int64 included).
Int128 raw_integer(ValueType t, std::uint64_t bits) {
  switch (t) {
  case ValueType::i16: return static_cast<std::int16_t>(static_cast<std::uint16_t>(bits));
  case ValueType::i32: return static_cast<std::int32_t>(static_cast<std::uint32_t>(bits));
  case ValueType::i64: return static_cast<std::int64_t>(bits);
  default: return static_cast<Int128>(bits);
  }
}

double raw_float(ValueType t, std::uint64_t bits) {
  if (t == ValueType::f32) return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(bits)));
  return std::bit_cast<double>(bits);
}

bool expected_count(const ValueSpec& spec, std::span<const std::uint16_t> words) {
  return words.size() == static_cast<std::size_t>(is_bit_table(spec.table) ? 1 : spec.words());
}

// The range of raw integers a type holds.
std::pair<Int128, Int128> raw_range(const ValueSpec& spec) {
  if (is_bit_table(spec.table)) return {0, 1};
  switch (spec.type) {
  case ValueType::u16: return {0, 0xFFFF};
  case ValueType::i16: return {-0x8000, 0x7FFF};
  case ValueType::u32: return {0, 0xFFFFFFFFLL};
  case ValueType::i32: return {-0x80000000LL, 0x7FFFFFFFLL};
  case ValueType::u64: return {0, Int128(std::numeric_limits<std::uint64_t>::max())};
  case ValueType::i64: return {std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()};
  default: return {0, 0};
  }
}

std::vector<std::uint16_t> integer_words(const ValueSpec& spec, Int128 raw, WordOrder order) {
  auto [lo, hi] = raw_range(spec);
  if (raw < lo || raw > hi)
    fail(Exit::data, "{}: {} does not fit {} (scale {})", spec.name, static_cast<double>(raw) * spec.scale,
         is_bit_table(spec.table) ? std::string_view("a bit") : to_string(spec.type), spec.scale);
  if (is_bit_table(spec.table)) return {static_cast<std::uint16_t>(raw)};
  return split(static_cast<std::uint64_t>(raw), spec.words(), order);
}

std::vector<std::uint16_t> float_words(const ValueSpec& spec, double raw, WordOrder order) {
  if (spec.type == ValueType::f32) {
    auto f = static_cast<float>(raw);
    if (!std::isfinite(f)) fail(Exit::data, "{}: {} does not fit f32", spec.name, raw * spec.scale);
    return split(std::bit_cast<std::uint32_t>(f), 2, order);
  }
  return split(std::bit_cast<std::uint64_t>(raw), 4, order);
}

} // namespace

std::optional<double> decode_raw(const ValueSpec& spec, std::span<const std::uint16_t> words, WordOrder order) {
  if (!expected_count(spec, words)) return std::nullopt;
  if (is_bit_table(spec.table)) return words[0] != 0 ? 1.0 : 0.0;
  std::uint64_t bits = assemble(words, order);
  if (is_float(spec.type)) {
    double v = raw_float(spec.type, bits);
    if (!std::isfinite(v)) return std::nullopt;
    return v;
  }
  return static_cast<double>(raw_integer(spec.type, bits));
}

std::optional<Value> decode(const ValueSpec& spec, std::span<const std::uint16_t> words, WordOrder order) {
  if (!expected_count(spec, words)) return std::nullopt;
  if (!std::isfinite(spec.scale) || spec.scale == 0) return std::nullopt;
  Value v;
  v.name = spec.name;
  std::uint64_t bits = is_bit_table(spec.table) ? (words[0] != 0 ? 1 : 0) : assemble(words, order);
  if (!is_bit_table(spec.table) && is_float(spec.type)) {
    double raw = raw_float(spec.type, bits);
    v.real = raw * spec.scale;
    if (!std::isfinite(v.real)) return std::nullopt;
    v.integer = to_int64(std::round(v.real));
    return v;
  }
  Int128 raw = is_bit_table(spec.table) ? Int128(bits) : raw_integer(spec.type, bits);
  if (auto f = scale_fraction(spec.scale)) {
    Int128 product = raw * f->num; // |raw| < 2^64, |num| < 2^63: fits
    v.integer = to_int64(divide_rounded(product, f->den));
    v.real = f->den == 1 ? static_cast<double>(product) : static_cast<double>(product) / static_cast<double>(f->den);
  } else {
    v.real = static_cast<double>(raw) * spec.scale;
    if (!std::isfinite(v.real)) return std::nullopt;
    v.integer = to_int64(std::round(v.real));
  }
  return v;
}

std::vector<std::uint16_t> encode(const ValueSpec& spec, double canonical, WordOrder order) {
  if (!std::isfinite(canonical)) fail(Exit::data, "{}: {} is not a number", spec.name, canonical);
  if (!std::isfinite(spec.scale) || spec.scale == 0) fail(Exit::data, "{}: bad scale {}", spec.name, spec.scale);
  const bool bits = is_bit_table(spec.table);
  if (!bits && is_float(spec.type)) return float_words(spec, canonical / spec.scale, order);
  // An integral canonical value goes the exact way (energy in Wh from the simulator).
  if (auto whole = to_int64(canonical); whole && static_cast<double>(*whole) == canonical)
    return encode_integer(spec, *whole, order);
  double raw = std::round(canonical / spec.scale);
  if (!std::isfinite(raw) || std::fabs(raw) > 1.8e19)
    fail(Exit::data, "{}: {} does not fit {}", spec.name, canonical, to_string(spec.type));
  return integer_words(spec, static_cast<Int128>(raw), order);
}

std::vector<std::uint16_t> encode_integer(const ValueSpec& spec, std::int64_t canonical, WordOrder order) {
  if (!std::isfinite(spec.scale) || spec.scale == 0) fail(Exit::data, "{}: bad scale {}", spec.name, spec.scale);
  const bool bits = is_bit_table(spec.table);
  if (!bits && is_float(spec.type)) return float_words(spec, static_cast<double>(canonical) / spec.scale, order);
  if (auto f = scale_fraction(spec.scale)) {
    // raw = canonical / (num / den) = canonical × den / num, with num's sign moved to the top.
    Int128 p = Int128(canonical) * f->den, q = f->num;
    if (q < 0) {
      p = -p;
      q = -q;
    }
    return integer_words(spec, divide_rounded(p, q), order);
  }
  double raw = std::round(static_cast<double>(canonical) / spec.scale);
  if (!std::isfinite(raw) || std::fabs(raw) > 1.8e19)
    fail(Exit::data, "{}: {} does not fit {}", spec.name, canonical, to_string(spec.type));
  return integer_words(spec, static_cast<Int128>(raw), order);
}

} // namespace kwh::modbus
