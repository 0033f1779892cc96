#include "test_report_fixture.hpp"

#include <doctest/doctest.h>

using namespace kwh;
using namespace kwh::report;
using test::cell;

namespace {
UnixTime at(const char* s) { return parse_time(s).value(); }
} // namespace

TEST_CASE("Report sales: months and days are site-local (a sale at 00:30 on the 1st in Shanghai)") {
  test::SiteZone zone("Asia/Shanghai");
  test::ReportSite site;
  site.book(1, at("2026-10-31T15:30:00Z"), "sale", 10000);             // 23:30 on 31 October
  site.book(1, at("2026-10-31T16:30:00Z"), "sale", 20050);             // 00:30 on 1 November
  site.book(2, at("2026-11-02T03:00:00Z"), "sale", 5000, "bob", "card");
  site.book(1, at("2026-11-02T04:00:00Z"), "refund", -1525);
  site.charge(1, 1, at("2026-11-02T00:00:00Z"), at("2026-11-02T05:00:00Z"), 1000, 100, "flat"); // not a sale

  auto t = sales(site.db(), test::request(Name::sales, "2026-10-01", "2026-11-30", By::month));
  REQUIRE(t.rows.size() == 2);
  CHECK(t.columns[0].name == "period");
  CHECK(cell(t, 0, "period") == "2026-10");
  CHECK(cell(t, 0, "sales") == "100.00");
  CHECK(cell(t, 0, "count") == "1");
  CHECK(cell(t, 1, "period") == "2026-11");
  CHECK(cell(t, 1, "sales") == "250.50");
  CHECK(cell(t, 1, "refunds") == "15.25");
  CHECK(cell(t, 1, "net") == "235.25");
  CHECK(cell(t, 1, "count") == "3");
  REQUIRE(t.totals.size() == 5);
  CHECK(t.totals[1].text() == "350.50");
  CHECK(t.totals[2].text() == "15.25");
  CHECK(t.totals[3].text() == "335.25");
  CHECK(t.totals[4].text() == "4");

  // By day: every day of the period is listed, empty ones with zeros.
  auto d = sales(site.db(), test::request(Name::sales, "2026-10-31", "2026-11-02", By::day));
  REQUIRE(d.rows.size() == 3);
  CHECK(cell(d, 0, "period") == "2026-10-31");
  CHECK(cell(d, 0, "sales") == "100.00");
  CHECK(cell(d, 1, "period") == "2026-11-01");
  CHECK(cell(d, 1, "sales") == "200.50");
  CHECK(cell(d, 2, "net") == "34.75");
}

TEST_CASE("Report sales: by operator and by account, with the key column named after it") {
  test::ReportSite site;
  site.book(1, at("2026-11-03T10:00:00Z"), "sale", 10000, "alice");
  site.book(2, at("2026-11-03T11:00:00Z"), "sale", 3000, "bob");
  site.book(2, at("2026-11-04T11:00:00Z"), "sale", 4000, "alice");
  auto t = sales(site.db(), test::request(Name::sales, "2026-11-01", "2026-11-30", By::operator_));
  CHECK(t.columns[0].name == "operator");
  REQUIRE(t.rows.size() == 2);
  CHECK(cell(t, 0, "operator") == "alice");
  CHECK(cell(t, 0, "sales") == "140.00");
  CHECK(cell(t, 1, "operator") == "bob");
  CHECK(t.totals[1].text() == "170.00");
  auto a = sales(site.db(), test::request(Name::sales, "2026-11-01", "2026-11-30", By::account));
  CHECK(a.columns[0].name == "account");
  CHECK(cell(a, 1, "account") == "A2");
  CHECK(cell(a, 1, "count") == "2");
  // Outside the period: nothing.
  auto none = sales(site.db(), test::request(Name::sales, "2026-10-01", "2026-10-31", By::account));
  CHECK(none.rows.empty());
  CHECK(none.totals[1].text() == "0.00");
}

TEST_CASE("Report reconcile: by operator and method, with the ledger's and the balances' own totals") {
  test::ReportSite site;
  site.book(1, at("2026-11-24T01:00:00Z"), "sale", 10000, "alice", "cash");
  site.book(1, at("2026-11-24T02:00:00Z"), "sale", 2000, "alice", "card");
  site.book(2, at("2026-11-24T03:00:00Z"), "sale", 5000, "bob", "cash");
  site.book(2, at("2026-11-24T04:00:00Z"), "refund", -1000, "bob", "cash");
  site.book(2, at("2026-11-23T04:00:00Z"), "sale", 7000, "bob", "cash"); // yesterday

  auto b = reconcile(site.db(), test::request(Name::reconcile));
  CHECK(b.discrepancy.empty());
  REQUIRE(b.table.rows.size() == 6);
  CHECK(cell(b.table, 0, "operator") == "alice");
  CHECK(cell(b.table, 0, "method") == "card");
  CHECK(cell(b.table, 2, "operator") == "bob");
  CHECK(cell(b.table, 2, "net") == "40.00");
  CHECK(cell(b.table, 2, "count") == "2");
  for (std::size_t i = 3; i < 6; ++i) {
    CHECK(cell(b.table, i, "operator") == "(all)");
    CHECK(cell(b.table, i, "sales") == "170.00");
    CHECK(cell(b.table, i, "refunds") == "10.00");
    CHECK(cell(b.table, i, "count") == "4");
  }
  CHECK(cell(b.table, 3, "source") == "payments");
  CHECK(cell(b.table, 4, "source") == "ledger");
  CHECK(cell(b.table, 5, "source") == "balances");
}

TEST_CASE("Report reconcile: a sale whose balance moved by more than its amount shows the difference") {
  test::ReportSite site;
  site.book(1, at("2026-11-24T01:00:00Z"), "sale", 10000);
  // Written behind kwh's back: amount 50.00 but the balance went from 100.00 to 180.00.
  site.db().exec("INSERT INTO ledger (account_id, time, kind, amount, balance, receipt, method, operator, hash) "
                 "VALUES (1, 1795496400, 'sale', 5000, 18000, 99, 'cash', 'mallory', x'00')");
  auto b = reconcile(site.db(), test::request(Name::reconcile));
  CHECK(cell(b.table, b.table.rows.size() - 3, "net") == "150.00"); // payments
  CHECK(cell(b.table, b.table.rows.size() - 2, "net") == "150.00"); // ledger
  CHECK(cell(b.table, b.table.rows.size() - 1, "net") == "180.00"); // balance movements
  CHECK(b.discrepancy.find("balance movements") != std::string::npos);
  CHECK(b.discrepancy.find("30.00") != std::string::npos);
}
