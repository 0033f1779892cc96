#include "test_report_fixture.hpp"

#include <doctest/doctest.h>

using namespace kwh;
using namespace kwh::report;

namespace {
UnixTime at(const char* s) { return parse_time(s).value(); }
} // namespace

TEST_CASE("Report period: without dates a report covers the site-local month to date") {
  test::SiteZone zone("Asia/Shanghai");
  Period p = period_from_dates({}, {}, at("2026-11-24T12:00:00Z"));
  CHECK(p.from == at("2026-11-01T00:00:00+08:00"));
  CHECK(p.to == at("2026-11-25T00:00:00+08:00"));
  // Just after the site's midnight on the 1st it is already the new month there.
  p = period_from_dates({}, {}, at("2026-11-30T16:30:00Z"));
  CHECK(p.from == at("2026-12-01T00:00:00+08:00"));
}

TEST_CASE("Report period: --to includes its whole day and --from after --to is a usage error") {
  test::SiteZone zone("Asia/Shanghai");
  Period p = period_from_dates("2026-10-01", "2026-10-31", at("2026-11-24T12:00:00Z"));
  CHECK(p.from == at("2026-10-01T00:00:00+08:00"));
  CHECK(p.to == at("2026-11-01T00:00:00+08:00"));
  try {
    period_from_dates("2026-11-02", "2026-11-01", at("2026-11-24T12:00:00Z"));
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::usage);
  }
  CHECK_THROWS_AS(period_from_dates("2026-13-01", {}, at("2026-11-24T12:00:00Z")), Error);
  Period today = today_or_dates({}, {}, at("2026-11-24T17:00:00Z"));
  CHECK(today.from == at("2026-11-25T00:00:00+08:00"));
  CHECK(today.to == at("2026-11-26T00:00:00+08:00"));
}

TEST_CASE("Report period: months are cut at the site's midnight, not UTC's (Asia/Shanghai)") {
  test::SiteZone zone("Asia/Shanghai");
  Period p = period_from_dates("2026-10-15", "2026-12-03", at("2026-12-24T12:00:00Z"));
  Buckets months(p, Step::month);
  REQUIRE(months.size() == 3);
  CHECK(months.label(0) == "2026-10");
  CHECK(months.label(2) == "2026-12");
  // 2026-10-31T16:30Z is 00:30 on 1 November in Shanghai.
  CHECK(months.index(at("2026-10-31T15:59:59Z")) == std::optional<std::size_t>(0));
  CHECK(months.index(at("2026-10-31T16:00:00Z")) == std::optional<std::size_t>(1));
  CHECK(months.index(at("2026-10-31T16:30:00Z")) == std::optional<std::size_t>(1));
  // Outside the period: before --from, and after --to's day.
  CHECK_FALSE(months.index(at("2026-10-14T15:59:59Z")).has_value());
  CHECK_FALSE(months.index(at("2026-12-03T16:00:00Z")).has_value());
  Buckets days(p, Step::day);
  CHECK(days.size() == 50);
  CHECK(days.label(0) == "2026-10-15");
  CHECK(days.index(at("2026-11-01T00:00:00+08:00")) == std::optional<std::size_t>(17));
  Buckets years(p, Step::year);
  REQUIRE(years.size() == 1);
  CHECK(years.label(0) == "2026");
}

TEST_CASE("Report options: a --by or option the report does not take is a usage error naming it") {
  auto code = [](Options o) {
    try {
      report::prepare(o);
      return Exit::ok;
    } catch (const Error& e) {
      return e.code();
    }
  };
  Options o;
  o.name = Name::sales;
  o.by = By::meter;
  CHECK(code(o) == Exit::usage);
  try {
    report::prepare(o);
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("--by meter") != std::string::npos);
  }
  o.by = By::operator_;
  CHECK(code(o) == Exit::ok);
  o = Options{};
  o.name = Name::balances;
  o.by = By::day;
  CHECK(code(o) == Exit::usage);
  o.by.reset();
  o.from = "2026-11-01";
  CHECK(code(o) == Exit::usage);
  o = Options{};
  o.name = Name::statement;
  CHECK(code(o) == Exit::usage); // needs --account
  o.account = "A1";
  CHECK(code(o) == Exit::ok);
  o = Options{};
  o.name = Name::energy;
  CHECK(report::prepare(o).options.by == By::meter); // the default grouping
}
