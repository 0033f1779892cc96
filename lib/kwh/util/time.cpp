#include <kwh/util/time.hpp>

#include <fmt/format.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <filesystem>

namespace kwh {

namespace {

std::string g_zone;
std::atomic<unsigned> g_zone_generation{0}; // changes with the zone, for what is remembered of it

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian civil date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool valid_date(int y, int m, int d) {
  static constexpr int k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= k_days[m - 1] + (m == 2 && leap ? 1 : 0);
}

} // namespace

void set_site_timezone(const std::string& iana_name) {
  if (!iana_name.empty()) {
    bool safe = iana_name.find("..") == std::string::npos && iana_name.front() != '/';
    std::error_code ec;
    if (!safe || !std::filesystem::is_regular_file("/usr/share/zoneinfo/" + iana_name, ec))
      fail(Exit::config, "unknown time zone '{}' (install tzdata, or use a name from /usr/share/zoneinfo)",
           iana_name);
    ::setenv("TZ", (":" + iana_name).c_str(), 1);
  }
  ::tzset();
  g_zone = iana_name;
  g_zone_generation.fetch_add(1, std::memory_order_relaxed);
}

const std::string& site_timezone() { return g_zone; }

UnixTime now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

LocalTime to_local(UnixTime t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::localtime_r(&tt, &tm);
  return LocalTime{tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec,         tm.tm_wday,    static_cast<int>(tm.tm_gmtoff)};
}

UnixTime from_local(int year, int month, int day, int hour, int minute, int second) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  tm.tm_isdst = -1;
  return static_cast<UnixTime>(::mktime(&tm));
}

UnixTime local_day_start(UnixTime t) {
  // Billing asks for the day of every reading, and readings come in time order: the day asked
  // for last is remembered (per thread, per zone), as the zone conversion takes a global lock.
  struct Day {
    unsigned generation = ~0u;
    UnixTime start = 0, end = 0;
  };
  thread_local Day last;
  const unsigned generation = g_zone_generation.load(std::memory_order_relaxed);
  if (last.generation == generation && t >= last.start && t < last.end) return last.start;
  auto l = to_local(t);
  const UnixTime start = from_local(l.year, l.month, l.day);
  last = Day{generation, start, from_local(l.year, l.month, l.day + 1)};
  return start;
}

UnixTime local_month_start(UnixTime t) {
  auto l = to_local(t);
  return from_local(l.year, l.month, 1);
}

UnixTime local_year_start(UnixTime t) {
  auto l = to_local(t);
  return from_local(l.year, 1, 1);
}

UnixTime add_local_days(UnixTime day_start, int days) {
  auto l = to_local(day_start);
  return from_local(l.year, l.month, l.day + days); // mktime normalises the day
}

UnixTime add_local_months(UnixTime month_start, int months) {
  auto l = to_local(month_start);
  int m0 = l.month - 1 + months;
  int y = l.year + (m0 >= 0 ? m0 / 12 : (m0 - 11) / 12);
  int m = ((m0 % 12) + 12) % 12 + 1;
  return from_local(y, m, 1);
}

std::string format_time(UnixTime t) {
  auto l = to_local(t);
  int off = l.utc_offset;
  char sign = off < 0 ? '-' : '+';
  off = off < 0 ? -off : off;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}", l.year, l.month, l.day, l.hour,
                     l.minute, l.second, sign, off / 3600, (off / 60) % 60);
}

std::string format_date(UnixTime t) {
  auto l = to_local(t);
  return fmt::format("{:04}-{:02}-{:02}", l.year, l.month, l.day);
}

Result<UnixTime> parse_time(std::string_view s) {
  auto bad = [&] {
    return Error(Exit::data,
                 fmt::format("'{}' is not a valid time (use RFC 3339, e.g. 2026-11-24T08:30:00+08:00, "
                             "or a site-local 2026-11-24 08:30)",
                             s));
  };
  if (s == "now") return now();
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || !valid_date(y, mo, d))
    return bad();
  std::size_t pos = 10;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != ' ' && s[pos] != 't') return bad();
    if (!digits(s, pos + 1, 2, h) || s.size() < pos + 6 || s[pos + 3] != ':' || !digits(s, pos + 4, 2, mi))
      return bad();
    pos += 6;
    if (pos < s.size() && s[pos] == ':') {
      if (!digits(s, pos + 1, 2, sec)) return bad();
      pos += 3;
      if (pos < s.size() && s[pos] == '.') { // fractional seconds are accepted and dropped
        ++pos;
        if (pos >= s.size() || !std::isdigit(static_cast<unsigned char>(s[pos]))) return bad();
        while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos;
      }
    }
    if (h > 23 || mi > 59 || sec > 60) return bad();
  }
  if (pos == s.size()) return from_local(y, mo, d, h, mi, sec);
  std::int64_t offset = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    if (pos + 1 != s.size()) return bad();
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (s.size() != pos + 6 || !digits(s, pos + 1, 2, oh) || s[pos + 3] != ':' || !digits(s, pos + 4, 2, om) ||
        oh > 23 || om > 59)
      return bad();
    offset = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
  } else {
    return bad();
  }
  return days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
         mi * 60 + sec - offset;
}

Result<UnixTime> parse_date(std::string_view s) {
  int y, mo, d;
  if (s.size() != 10 || !digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || !valid_date(y, mo, d))
    return Error(Exit::data, fmt::format("'{}' is not a valid date (use YYYY-MM-DD)", s));
  return from_local(y, mo, d);
}

Result<std::chrono::milliseconds> parse_duration(std::string_view s) {
  auto bad = [&] {
    return Error(Exit::data, fmt::format("'{}' is not a valid duration (e.g. 500ms, 30s, 30m, 24h)", s));
  };
  if (s.empty()) return bad();
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    std::int64_t n = 0;
    std::size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      n = n * 10 + (s[i] - '0');
      if (n > 1'000'000'000) return bad();
      ++i;
    }
    if (i == start) return bad();
    std::int64_t unit;
    if (s.substr(i, 2) == "ms") {
      unit = 1;
      i += 2;
    } else if (i < s.size() && (s[i] == 's' || s[i] == 'm' || s[i] == 'h' || s[i] == 'd')) {
      unit = s[i] == 's' ? 1000 : s[i] == 'm' ? 60'000 : s[i] == 'h' ? 3'600'000 : 86'400'000;
      ++i;
    } else {
      return bad();
    }
    total += n * unit;
  }
  return std::chrono::milliseconds(total);
}

std::string format_duration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

} // namespace kwh
