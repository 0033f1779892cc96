#include <doctest/doctest.h>

#include <kwh/util/time.hpp>

using namespace kwh;

namespace {
struct Zone {
  explicit Zone(const char* z) { set_site_timezone(z); }
  ~Zone() { set_site_timezone("UTC"); }
};
} // namespace

TEST_CASE("Time: RFC 3339 with an offset is exact whatever the site zone") {
  Zone z("Asia/Shanghai");
  CHECK(*parse_time("2026-01-01T00:00:00Z") == 1767225600);
  CHECK(*parse_time("2026-01-01T08:00:00+08:00") == 1767225600);
  CHECK(*parse_time("2025-12-31T19:00:00-05:00") == 1767225600);
  CHECK(*parse_time("2026-01-01T00:00:00.250Z") == 1767225600);
}

TEST_CASE("Time: local times and dates are site-local") {
  Zone z("Asia/Shanghai");
  CHECK(*parse_time("2026-01-01T08:00") == 1767225600);
  CHECK(*parse_time("2026-01-01 08:00:00") == 1767225600);
  CHECK(*parse_date("2026-01-01") == 1767225600 - 8 * 3600);
  CHECK(format_time(1767225600) == "2026-01-01T08:00:00+08:00");
  CHECK(format_date(1767225600 - 8 * 3600) == "2026-01-01");
  CHECK(format_date(1767225600 - 8 * 3600 - 1) == "2025-12-31");
}

TEST_CASE("Time: bad times and dates are rejected") {
  for (const char* s : {"", "2026", "2026-13-01", "2026-02-30", "2026-02-29", "2026-01-01T25:00",
                        "2026-01-01T10:00+8", "2026-01-01X", "2026-01-01T10:00:00+08:00x", "yesterday"}) {
    CAPTURE(s);
    CHECK_FALSE(parse_time(s).ok());
  }
  CHECK(parse_time("2028-02-29").ok());
  CHECK_FALSE(parse_date("2026-1-1").ok());
  CHECK_FALSE(parse_date("2026-01-01T00:00").ok());
}

TEST_CASE("Time: month and day starts follow the site zone across DST") {
  Zone z("Europe/Berlin");
  // 2026-03-29 is the spring-forward day in Berlin: it has 23 hours.
  UnixTime d = *parse_date("2026-03-29");
  CHECK(add_local_days(d, 1) - d == 23 * 3600);
  CHECK(local_day_start(d + 12 * 3600) == d);
  UnixTime m = local_month_start(*parse_time("2026-03-15T12:00"));
  CHECK(m == *parse_date("2026-03-01"));
  CHECK(add_local_months(m, 1) == *parse_date("2026-04-01"));
  CHECK(add_local_months(m, -3) == *parse_date("2025-12-01"));
  CHECK(local_year_start(m) == *parse_date("2026-01-01"));
}

TEST_CASE("Time: durations") {
  CHECK(parse_duration("500ms")->count() == 500);
  CHECK(parse_duration("30m")->count() == 1'800'000);
  CHECK(parse_duration("1h30m")->count() == 5'400'000);
  CHECK(parse_duration("24h")->count() == 86'400'000);
  CHECK_FALSE(parse_duration("").ok());
  CHECK_FALSE(parse_duration("30").ok());
  CHECK_FALSE(parse_duration("m").ok());
  CHECK_FALSE(parse_duration("3x").ok());
  CHECK(format_duration(std::chrono::minutes(30)) == "30m");
}

TEST_CASE("Time: an unknown zone is a configuration error") {
  CHECK_THROWS_AS(set_site_timezone("Mars/Olympus"), Error);
  CHECK_THROWS_AS(set_site_timezone("../../etc/passwd"), Error);
  set_site_timezone("UTC");
}
