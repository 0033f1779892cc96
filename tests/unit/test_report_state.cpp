#include "test_report_fixture.hpp"

#include <doctest/doctest.h>

using namespace kwh;
using namespace kwh::report;
using test::cell;

TEST_CASE("Report balances: one row per account with its meters and a total") {
  test::ReportSite site;
  site.book(1, 1000, "sale", 12050);
  site.book(2, 1000, "sale", 1000);
  site.book(2, 2000, "adjustment", -3000);
  site.db().exec("UPDATE accounts SET status = 'arrears' WHERE id = 2");
  auto t = balances(site.db(), test::request(Name::balances));
  REQUIRE(t.rows.size() == 2);
  CHECK(cell(t, 0, "account") == "A1");
  CHECK(cell(t, 0, "name") == "Noodle bar");
  CHECK(cell(t, 0, "balance") == "120.50");
  CHECK(cell(t, 0, "alarm1") == "50.00");
  CHECK(cell(t, 0, "meters") == "M1 W1");
  CHECK(cell(t, 1, "status") == "arrears");
  CHECK(cell(t, 1, "balance") == "-20.00");
  CHECK(cell(t, 1, "credit_limit") == "20.00");
  CHECK(cell(t, 1, "alarm1") == "");
  CHECK(t.totals[3].text() == "100.50");
}

TEST_CASE("Report alarms: active ones from before the period stay listed; --active drops ended ones") {
  test::ReportSite site;
  UnixTime nov5 = parse_time("2026-11-05T00:00:00Z").value();
  site.db().exec("INSERT INTO events (time, kind, account_id, meter_id, detail, ended) VALUES "
                 "(1790000000, 'arrears', 2, 3, 'balance -20.00', NULL),"        // October, still active
                 "(1790000000, 'alarm1', 1, NULL, 'old', 1790001000),"           // October, ended
                 "(" + std::to_string(nov5) + ", 'overload', 1, 1, '9000 W', " + std::to_string(nov5 + 60) + "),"
                 "(" + std::to_string(nov5) + ", 'meter_online', NULL, 1, NULL, NULL)");
  auto t = alarms(site.db(), test::request(Name::alarms));
  REQUIRE(t.rows.size() == 2);
  CHECK(cell(t, 0, "kind") == "arrears");
  CHECK(cell(t, 0, "account") == "A2");
  CHECK(cell(t, 0, "meter") == "M2");
  CHECK(cell(t, 0, "active") == "yes");
  CHECK(cell(t, 1, "kind") == "overload");
  CHECK(cell(t, 1, "ended") == "2026-11-05T00:01:00+00:00");
  CHECK(cell(t, 1, "active") == "no");
  Options o;
  o.name = Name::alarms;
  o.active = true;
  o.now = parse_time("2026-11-24T12:00:00Z").value();
  auto active = alarms(site.db(), prepare(o));
  REQUIRE(active.rows.size() == 1);
  CHECK(cell(active, 0, "kind") == "arrears");
}

TEST_CASE("Report alarms: an event of one moment (counter reset, command given up, clock off) is never active") {
  test::ReportSite site;
  UnixTime nov5 = parse_time("2026-11-05T00:00:00Z").value();
  site.db().exec("INSERT INTO events (time, kind, account_id, meter_id, detail, ended) VALUES "
                 "(1790000000, 'counter_reset', NULL, 1, 'from 9000 to 10', NULL),"   // October
                 "(1790000000, 'clock_drift', NULL, 1, '300 s fast', NULL),"         // October
                 "(" + std::to_string(nov5) + ", 'command_failed', NULL, 2, 'relay_off given up', NULL),"
                 "(" + std::to_string(nov5) + ", 'meter_offline', NULL, 2, 'timeout', NULL)");
  auto t = alarms(site.db(), test::request(Name::alarms));
  // The October ones are before the period and over; the November ones are listed.
  REQUIRE(t.rows.size() == 2);
  CHECK(cell(t, 0, "kind") == "command_failed");
  CHECK(cell(t, 0, "active") == "no");
  CHECK(cell(t, 1, "kind") == "meter_offline");
  CHECK(cell(t, 1, "active") == "yes");
  Options o;
  o.name = Name::alarms;
  o.active = true;
  o.now = parse_time("2026-11-24T12:00:00Z").value();
  auto active = alarms(site.db(), prepare(o));
  REQUIRE(active.rows.size() == 1);
  CHECK(cell(active, 0, "kind") == "meter_offline");
}

TEST_CASE("Report offline and gateways: what lost connection, since when, and the meters per gateway") {
  test::ReportSite site;
  auto r = test::request(Name::offline);
  auto t = offline(site.db(), r);
  REQUIRE(t.rows.size() == 2);
  CHECK(cell(t, 0, "kind") == "gateway");
  CHECK(cell(t, 0, "name") == "gw-south");
  CHECK(cell(t, 1, "kind") == "meter");
  CHECK(cell(t, 1, "name") == "W1");
  CHECK(cell(t, 1, "gateway") == "gw-north");
  CHECK(cell(t, 1, "since") == format_time(2000));
  CHECK(cell(t, 1, "duration_s") == std::to_string(r.options.now - 2000));

  auto g = gateways(site.db(), test::request(Name::gateways));
  REQUIRE(g.rows.size() == 2);
  CHECK(cell(g, 0, "gateway") == "gw-north");
  CHECK(cell(g, 0, "meters") == "2");
  CHECK(cell(g, 0, "online") == "1");
  CHECK(cell(g, 0, "offline") == "1");
  CHECK(cell(g, 1, "status") == "offline");
  CHECK(g.totals[5].text() == "3");
}

TEST_CASE("Report readings: the latest values, missing ones empty; --raw lists the period's readings") {
  test::ReportSite site;
  site.db().exec(R"sql(INSERT INTO meter_values (meter_id, t, "values") VALUES
    (1, 1795500000, '{"energy_total": 1234567, "power_total": 1500.5, "voltage_a": 230.1, "power_factor": 0.98}'),
    (2, 1795500000, '{"volume_total": 4321}');
    INSERT INTO readings (meter_id, t, value, peak, power) VALUES (1, 1795400000, 1000, 400, 900), (1, 1795500000, 2000, 800, NULL),
      (1, 1790000000, 10, NULL, NULL);)sql");
  auto t = latest_readings(site.db(), test::request(Name::readings));
  REQUIRE(t.rows.size() == 2);
  CHECK(cell(t, 0, "meter") == "M1");
  CHECK(cell(t, 0, "energy_kwh") == "1234.567");
  CHECK(cell(t, 0, "power_w") == "1500.5");
  CHECK(cell(t, 0, "voltage_b") == "");
  CHECK(cell(t, 0, "pf") == "0.98");
  CHECK(cell(t, 1, "volume_m3") == "4.321");

  Options o;
  o.name = Name::readings;
  o.raw = true;
  o.now = parse_time("2026-11-24T12:00:00Z").value();
  std::vector<std::vector<output::Json>> rows;
  for_each_raw_reading(site.db(), prepare(o), [&](std::vector<output::Json>&& r) { rows.push_back(std::move(r)); });
  REQUIRE(rows.size() == 2); // the October reading is outside the month
  CHECK(rows[0][0].text() == "M1");
  CHECK(rows[0][2].text() == "1000");
  CHECK(rows[0][5].text() == "400");
  CHECK(rows[0][8].text() == "900");
  CHECK(rows[1][8].is_null());
}
