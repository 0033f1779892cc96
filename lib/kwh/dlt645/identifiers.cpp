#include <kwh/dlt645/identifiers.hpp>

#include <kwh/util/money.hpp>

#include <fmt/format.h>

#include <array>

namespace kwh::dlt645 {

namespace {

// clang-format off
// DL/T 645-2007 appendix A. Energy values are 4 bytes XXXXXX.XX kWh (0.01 kWh = 10 Wh);
// instantaneous values carry their sign in the top bit where the standard says a direction
// ("最高位表示方向": currents, powers, power factors).
constexpr Identifier k_table[] = {
  // name              DI          bytes encoding              format       dec  unit    canonical exp
  {"energy_total",   0x00010000, 4, Encoding::bcd,        "XXXXXX.XX", 2, "kWh",  "Wh",    1},  // 正向有功总电能
  {"energy_sharp",   0x00010100, 4, Encoding::bcd,        "XXXXXX.XX", 2, "kWh",  "Wh",    1},  // 正向有功费率1
  {"energy_peak",    0x00010200, 4, Encoding::bcd,        "XXXXXX.XX", 2, "kWh",  "Wh",    1},  // 费率2
  {"energy_flat",    0x00010300, 4, Encoding::bcd,        "XXXXXX.XX", 2, "kWh",  "Wh",    1},  // 费率3
  {"energy_valley",  0x00010400, 4, Encoding::bcd,        "XXXXXX.XX", 2, "kWh",  "Wh",    1},  // 费率4
  {"voltage_a",      0x02010100, 2, Encoding::bcd,        "XXX.X",     1, "V",    "V",    -1},  // A相电压
  {"voltage_b",      0x02010200, 2, Encoding::bcd,        "XXX.X",     1, "V",    "V",    -1},
  {"voltage_c",      0x02010300, 2, Encoding::bcd,        "XXX.X",     1, "V",    "V",    -1},
  {"current_a",      0x02020100, 3, Encoding::bcd_signed, "XXX.XXX",   3, "A",    "A",    -3},  // A相电流
  {"current_b",      0x02020200, 3, Encoding::bcd_signed, "XXX.XXX",   3, "A",    "A",    -3},
  {"current_c",      0x02020300, 3, Encoding::bcd_signed, "XXX.XXX",   3, "A",    "A",    -3},
  {"power_total",    0x02030000, 3, Encoding::bcd_signed, "XX.XXXX",   4, "kW",   "W",    -1},  // 瞬时总有功功率
  {"power_factor",   0x02060000, 2, Encoding::bcd_signed, "X.XXX",     3, "",     "",     -3},  // 总功率因数
  {"frequency",      0x02800002, 2, Encoding::bcd,        "XX.XX",     2, "Hz",   "Hz",   -2},  // 电网频率
  {"status_word_3",  0x04000503, 2, Encoding::bits,       "XXXX",      0, "",     "",      0},  // 电表运行状态字3
  {"clock_date",     0x04000101, 4, Encoding::bcd,        "YYMMDDWW",  0, "",     "",      0},  // 日期及星期 (WW: 0 = Sunday)
  {"clock_time",     0x04000102, 3, Encoding::bcd,        "hhmmss",    0, "",     "",      0},  // 时间
  // Prepaid values are not in the 2007 text itself but in the later amendment for smart meters
  // that most prepaid meters implement; unverified against a meter. Money is in yuan with two
  // decimals, that is in fen, the site's minor unit when minor_units = 2.
  {"meter_balance",  0x00900200, 4, Encoding::bcd,        "XXXXXX.XX", 2, "yuan", "minor", 0},  // (当前)剩余金额
  {"purchase_count", 0x03330201, 2, Encoding::bcd,        "XXXX",      0, "",     "",      0},  // 上1次购电后总购电次数
};
// clang-format on

constexpr std::int64_t k_pow10[] = {1,         10,         100,         1000,         10000,         100000,
                                    1000000,   10000000,   100000000,   1000000000,   10000000000,   100000000000,
                                    1000000000000, 10000000000000, 100000000000000, 1000000000000000,
                                    10000000000000000, 100000000000000000, 1000000000000000000};

constexpr std::size_t k_max_bcd_bytes = 9; // 18 digits fit an int64

bool is_bcd(std::uint8_t b) { return (b >> 4) <= 9 && (b & 0x0F) <= 9; }

} // namespace

std::span<const Identifier> identifiers() { return k_table; }

const Identifier* find_identifier(std::string_view name) {
  for (const auto& id : k_table)
    if (id.name == name) return &id;
  return nullptr;
}

const Identifier* find_identifier(std::uint32_t di) {
  for (const auto& id : k_table)
    if (id.di == di) return &id;
  return nullptr;
}

Result<std::int64_t> decode_bcd(std::span<const std::uint8_t> bytes, bool is_signed) {
  if (bytes.empty() || bytes.size() > k_max_bcd_bytes)
    return Error(Exit::data, fmt::format("BCD number of {} bytes; 1 to {} fit", bytes.size(), k_max_bcd_bytes));
  std::int64_t v = 0;
  bool negative = false;
  for (std::size_t i = bytes.size(); i-- > 0;) {
    std::uint8_t b = bytes[i];
    if (is_signed && i == bytes.size() - 1) {
      negative = (b & 0x80) != 0;
      b &= 0x7F;
    }
    if (!is_bcd(b)) return Error(Exit::data, fmt::format("byte 0x{:02X} is not BCD", bytes[i]));
    v = v * 100 + (b >> 4) * 10 + (b & 0x0F);
  }
  return negative ? -v : v;
}

Result<std::vector<std::uint8_t>> encode_bcd(std::int64_t value, std::size_t size, bool is_signed) {
  if (size == 0 || size > k_max_bcd_bytes)
    return Error(Exit::data, fmt::format("BCD number of {} bytes; 1 to {} fit", size, k_max_bcd_bytes));
  if (value < 0 && !is_signed) return Error(Exit::data, fmt::format("{} is negative; the format has no sign", value));
  // Both bounds hold for every size ≤ 9, so the magnitude cannot overflow.
  const std::int64_t limit = (is_signed ? 8 : 10) * k_pow10[2 * size - 1];
  if (value <= -limit || value >= limit)
    return Error(Exit::data, fmt::format("{} does not fit in {} BCD bytes{}", value, size, is_signed ? " with a sign" : ""));
  std::int64_t mag = value < 0 ? -value : value;
  std::vector<std::uint8_t> out(size);
  for (auto& b : out) {
    b = static_cast<std::uint8_t>((mag / 10 % 10) << 4 | (mag % 10));
    mag /= 100;
  }
  if (value < 0) out.back() |= 0x80;
  return out;
}

Result<Value> decode_value(const Identifier& id, std::span<const std::uint8_t> bytes) {
  if (bytes.size() != id.bytes)
    return Error(Exit::data, fmt::format("{}: {} value bytes, expected {}", id.name, bytes.size(), id.bytes));
  Value v;
  v.name = id.name;
  if (id.encoding == Encoding::bits) {
    for (std::size_t i = bytes.size(); i-- > 0;) v.raw = v.raw << 8 | bytes[i];
  } else {
    auto raw = decode_bcd(bytes, id.encoding == Encoding::bcd_signed);
    if (!raw) return Error(Exit::data, fmt::format("{}: {}", id.name, raw.error().what()));
    v.raw = *raw;
  }
  if (id.exponent >= 0) {
    std::int64_t canonical = 0;
    if (!__builtin_mul_overflow(v.raw, k_pow10[id.exponent], &canonical)) v.integer = canonical;
    v.real = static_cast<double>(v.raw) * static_cast<double>(k_pow10[id.exponent]);
  } else {
    // Dividing by an exact power of ten rounds once: 2203 / 10 is the double nearest 220.3.
    v.real = static_cast<double>(v.raw) / static_cast<double>(k_pow10[-id.exponent]);
  }
  return v;
}

Result<std::vector<std::uint8_t>> encode_value(const Identifier& id, std::int64_t raw) {
  if (id.encoding == Encoding::bits) {
    if (raw < 0 || raw >= (std::int64_t{1} << (8 * id.bytes)))
      return Error(Exit::data, fmt::format("{}: {} does not fit in {} bytes", id.name, raw, id.bytes));
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i < id.bytes; ++i) out.push_back(static_cast<std::uint8_t>(raw >> (8 * i)));
    return out;
  }
  auto out = encode_bcd(raw, id.bytes, id.encoding == Encoding::bcd_signed);
  if (!out) return Error(Exit::data, fmt::format("{}: {}", id.name, out.error().what()));
  return out;
}

std::string format_raw(const Identifier& id, std::int64_t raw) { return format_decimal(raw, id.decimals); }

} // namespace kwh::dlt645
