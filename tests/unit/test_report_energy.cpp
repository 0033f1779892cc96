#include "test_report_fixture.hpp"

#include <doctest/doctest.h>

using namespace kwh;
using namespace kwh::report;
using test::cell;

namespace {
UnixTime day(const char* date) { return parse_date(date).value(); }
} // namespace

TEST_CASE("Report energy: by meter from the daily rollups, electricity in kWh and water in m3, exact") {
  test::SiteZone zone("Asia/Shanghai");
  test::ReportSite site;
  site.usage(day("2026-11-01"), 1, 1, 12345, 1234);
  site.usage(day("2026-11-02"), 1, 1, 1, 1);
  site.usage(day("2026-11-02"), 2, 1, 2500, 700); // 2.5 m3 of water
  site.usage(day("2026-11-02"), 3, 0, 999, 0);    // nobody's consumption
  site.usage(day("2026-10-31"), 1, 1, 777000, 777); // the day before: outside

  auto t = energy(site.db(), test::request(Name::energy, "2026-11-01", "2026-11-30", By::meter));
  REQUIRE(t.rows.size() == 3);
  CHECK(t.columns[0].name == "meter");
  CHECK(cell(t, 0, "meter") == "M1");
  CHECK(cell(t, 0, "energy_kwh") == "12.346");
  CHECK(cell(t, 0, "volume_m3") == "");
  CHECK(cell(t, 0, "cost") == "12.35");
  CHECK(cell(t, 1, "meter") == "M2");
  CHECK(cell(t, 1, "energy_kwh") == "0.999");
  CHECK(cell(t, 2, "meter") == "W1");
  CHECK(cell(t, 2, "energy_kwh") == "");
  CHECK(cell(t, 2, "volume_m3") == "2.500");
  CHECK(cell(t, 2, "cost") == "7.00");
  REQUIRE(t.totals.size() == 4);
  CHECK(t.totals[1].text() == "13.345");
  CHECK(t.totals[2].text() == "2.500");
  CHECK(t.totals[3].text() == "19.35");
}

TEST_CASE("Report energy: by account and building keep no-account consumption apart; by month is site-local") {
  test::SiteZone zone("Asia/Shanghai");
  test::ReportSite site;
  site.usage(day("2026-10-31"), 1, 1, 1000, 100);
  site.usage(day("2026-11-01"), 1, 1, 2000, 200);
  site.usage(day("2026-11-01"), 2, 1, 3000, 300);
  site.usage(day("2026-11-01"), 3, 0, 4000, 0);

  auto a = energy(site.db(), test::request(Name::energy, "2026-10-01", "2026-11-30", By::account));
  REQUIRE(a.rows.size() == 2);
  CHECK(cell(a, 0, "account") == ""); // no account
  CHECK(cell(a, 0, "energy_kwh") == "4.000");
  CHECK(cell(a, 1, "account") == "A1");
  CHECK(cell(a, 1, "energy_kwh") == "3.000");
  CHECK(cell(a, 1, "volume_m3") == "3.000");
  CHECK(cell(a, 1, "cost") == "6.00");

  auto b = energy(site.db(), test::request(Name::energy, "2026-10-01", "2026-11-30", By::building));
  REQUIRE(b.rows.size() == 2);
  CHECK(cell(b, 0, "building") == "A");
  CHECK(cell(b, 1, "building") == "B");
  CHECK(cell(b, 1, "energy_kwh") == "4.000");

  auto m = energy(site.db(), test::request(Name::energy, "2026-10-01", "2026-11-30", By::month));
  REQUIRE(m.rows.size() == 2);
  CHECK(cell(m, 0, "period") == "2026-10");
  CHECK(cell(m, 0, "energy_kwh") == "1.000");
  CHECK(cell(m, 0, "volume_m3") == "");
  CHECK(cell(m, 1, "period") == "2026-11");
  CHECK(cell(m, 1, "energy_kwh") == "6.000");
  CHECK(cell(m, 1, "volume_m3") == "3.000");
}

TEST_CASE("Report energy: --account limits the rollups to that account; an unknown one is 66") {
  test::ReportSite site;
  site.usage(day("2026-11-01"), 1, 1, 2000, 200);
  site.usage(day("2026-11-01"), 3, 2, 4000, 400);
  Options o;
  o.name = Name::energy;
  o.account = "A2";
  o.from = "2026-11-01";
  o.now = parse_time("2026-11-24T12:00:00Z").value();
  auto t = energy(site.db(), prepare(o));
  REQUIRE(t.rows.size() == 1);
  CHECK(cell(t, 0, "meter") == "M2");
  o.account = "nobody";
  try {
    energy(site.db(), prepare(o));
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::no_input);
  }
}
