#include <kwh/modbus/clock.hpp>

#include <fmt/format.h>

namespace kwh::modbus {

namespace {

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in(int year, int month) {
  static constexpr int k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return k_days[month - 1] + (month == 2 && leap(year) ? 1 : 0);
}

// The site-local wall-clock time, checked field by field.
Result<UnixTime> local(int year, int month, int day, int hour, int minute, int second) {
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > days_in(year, month) || hour < 0 || hour > 23 ||
      minute < 0 || minute > 59 || second < 0 || second > 59)
    return Error(Exit::data, fmt::format("the meter's clock reads {:04}-{:02}-{:02} {:02}:{:02}:{:02}, not a time",
                                         year, month, day, hour, minute, second));
  return from_local(year, month, day, hour, minute, second);
}

std::uint16_t bcd_byte(int v) { return static_cast<std::uint16_t>((v / 10) << 4 | (v % 10)); }

// Two BCD digits, or -1.
int from_bcd(unsigned byte) {
  unsigned hi = byte >> 4 & 0xF, lo = byte & 0xF;
  if (hi > 9 || lo > 9) return -1;
  return static_cast<int>(hi * 10 + lo);
}

} // namespace

Result<std::vector<std::uint16_t>> encode_clock(const ClockSpec& clock, WordOrder order, UnixTime t) {
  if (clock.format == ClockFormat::unix_seconds) {
    if (t < 0 || t > 0xFFFFFFFFll) return Error(Exit::data, fmt::format("{} does not fit a 32-bit clock", format_time(t)));
    auto hi = static_cast<std::uint16_t>(t >> 16), lo = static_cast<std::uint16_t>(t & 0xFFFF);
    return order == WordOrder::big ? std::vector<std::uint16_t>{hi, lo} : std::vector<std::uint16_t>{lo, hi};
  }
  const LocalTime l = to_local(t);
  if (clock.format == ClockFormat::ymdhms) {
    if (l.year > 65535) return Error(Exit::data, fmt::format("{} does not fit the meter's clock", format_time(t)));
    return std::vector<std::uint16_t>{static_cast<std::uint16_t>(l.year),   static_cast<std::uint16_t>(l.month),
                                      static_cast<std::uint16_t>(l.day),    static_cast<std::uint16_t>(l.hour),
                                      static_cast<std::uint16_t>(l.minute), static_cast<std::uint16_t>(l.second)};
  }
  if (l.year < 2000 || l.year > 2099)
    return Error(Exit::data, fmt::format("{} does not fit the meter's clock (2000..2099)", format_time(t)));
  return std::vector<std::uint16_t>{static_cast<std::uint16_t>(bcd_byte(l.year - 2000) << 8 | bcd_byte(l.month)),
                                    static_cast<std::uint16_t>(bcd_byte(l.day) << 8 | bcd_byte(l.hour)),
                                    static_cast<std::uint16_t>(bcd_byte(l.minute) << 8 | bcd_byte(l.second))};
}

Result<UnixTime> decode_clock(const ClockSpec& clock, WordOrder order, std::span<const std::uint16_t> w) {
  if (static_cast<int>(w.size()) != clock.words())
    return Error(Exit::data, fmt::format("the meter's clock: {} registers, expected {}", w.size(), clock.words()));
  switch (clock.format) {
  case ClockFormat::unix_seconds: {
    std::uint32_t hi = order == WordOrder::big ? w[0] : w[1], lo = order == WordOrder::big ? w[1] : w[0];
    return static_cast<UnixTime>(hi << 16 | lo);
  }
  case ClockFormat::ymdhms: return local(w[0], w[1], w[2], w[3], w[4], w[5]);
  case ClockFormat::bcd: {
    int f[6];
    for (std::size_t i = 0; i < 6; ++i) {
      unsigned byte = i % 2 == 0 ? w[i / 2] >> 8 : w[i / 2] & 0xFF;
      f[i] = from_bcd(byte);
      if (f[i] < 0) return Error(Exit::data, fmt::format("the meter's clock: byte 0x{:02X} is not BCD", byte));
    }
    return local(2000 + f[0], f[1], f[2], f[3], f[4], f[5]);
  }
  }
  return Error(Exit::data, "the meter's clock: unknown format");
}

Result<UnixTime> dlt645_clock(std::int64_t date, std::int64_t time) {
  // YYMMDDWW and hhmmss as decimal numbers (the BCD digits as written).
  int yy = static_cast<int>(date / 1000000 % 100), mm = static_cast<int>(date / 10000 % 100),
      dd = static_cast<int>(date / 100 % 100);
  int h = static_cast<int>(time / 10000 % 100), m = static_cast<int>(time / 100 % 100), s = static_cast<int>(time % 100);
  return local(2000 + yy, mm, dd, h, m, s);
}

} // namespace kwh::modbus
