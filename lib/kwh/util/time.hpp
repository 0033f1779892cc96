#pragma once
// Site time. Everything is stored as UTC seconds; it is shown and parsed in the site's time
// zone. Day, month and year boundaries and tariff windows are site-local.
//
// The site zone is process-wide (one site per process): set_site_timezone() sets TZ once at
// start-up, before any thread starts, and the C library's localtime_r/mktime do the rest with
// the system's zoneinfo.

#include <kwh/util/error.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace kwh {

using UnixTime = std::int64_t; // seconds since 1970-01-01T00:00:00Z

struct LocalTime {
  int year = 1970, month = 1, day = 1; // month 1..12
  int hour = 0, minute = 0, second = 0;
  int weekday = 4;                     // 0 = Sunday .. 6 = Saturday
  int utc_offset = 0;                  // seconds east of UTC
};

// Empty name: the system's zone. Throws Error(config) for a zone the system does not know.
void set_site_timezone(const std::string& iana_name);
const std::string& site_timezone();

UnixTime now();
LocalTime to_local(UnixTime t);
// The UTC time of a site-local wall-clock time. In a DST gap the time after the gap is used;
// in a repeated hour the first occurrence.
UnixTime from_local(int year, int month, int day, int hour = 0, int minute = 0, int second = 0);

UnixTime local_day_start(UnixTime t);
UnixTime local_month_start(UnixTime t);
UnixTime local_year_start(UnixTime t);
UnixTime add_local_days(UnixTime day_start, int days);
UnixTime add_local_months(UnixTime month_start, int months);

// "2026-11-24T20:00:00+08:00" in the site zone.
std::string format_time(UnixTime t);
// "2026-11-24" in the site zone.
std::string format_date(UnixTime t);

// RFC 3339 with an offset or Z; or a site-local "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS]" or
// "YYYY-MM-DD HH:MM[:SS]"; or "now". Errors are Exit::data naming the text.
Result<UnixTime> parse_time(std::string_view text);
// A site-local date "YYYY-MM-DD", as the UTC time of its midnight.
Result<UnixTime> parse_date(std::string_view text);

// "500ms", "30s", "30m", "24h", "1d" (and combinations such as "1h30m") to milliseconds.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);
std::string format_duration(std::chrono::milliseconds d);

} // namespace kwh
