#include "test_report_fixture.hpp"

#include <doctest/doctest.h>

using namespace kwh;
using namespace kwh::report;
using test::cell;

namespace {
UnixTime at(const char* s) { return parse_time(s).value(); }

Request statement_of(const char* account, const char* from, const char* to) {
  Options o;
  o.name = Name::statement;
  o.account = account;
  o.from = from, o.to = to;
  o.now = at("2026-11-24T12:00:00Z");
  return prepare(o);
}
} // namespace

TEST_CASE("Report statement: opening + movements = closing, every entry, consumption by band") {
  test::ReportSite site;
  site.book(1, at("2026-10-20T10:00:00Z"), "sale", 10000); // before: the opening balance
  site.charge(1, 1, at("2026-10-31T12:00:00Z"), at("2026-11-01T12:00:00Z"), 5000, 250, "peak");
  site.book(1, at("2026-11-03T10:00:00Z"), "sale", 5000);
  site.charge(1, 1, at("2026-11-03T00:00:00Z"), at("2026-11-04T00:00:00Z"), 2000, 60, "valley");
  site.charge(1, 1, at("2026-11-04T00:00:00Z"), at("2026-11-05T00:00:00Z"), 3000, 150, "peak");
  site.book(1, at("2026-11-06T10:00:00Z"), "refund", -1000);
  site.book(2, at("2026-11-06T10:00:00Z"), "sale", 99900); // another account
  site.book(1, at("2026-12-01T10:00:00Z"), "sale", 100);   // after the period

  auto b = statement(site.db(), statement_of("A1", "2026-11-01", "2026-11-30"));
  CHECK(b.discrepancy.empty());
  const auto& t = b.table;
  REQUIRE(t.rows.size() == 1 + 5 + 2 + 1);
  CHECK(cell(t, 0, "kind") == "opening");
  CHECK(cell(t, 0, "balance") == "100.00");
  CHECK(cell(t, 1, "kind") == "charge");
  CHECK(cell(t, 1, "meter") == "M1");
  CHECK(cell(t, 1, "quantity") == "5000");
  CHECK(cell(t, 1, "unit") == "Wh");
  CHECK(cell(t, 1, "band") == "peak");
  CHECK(cell(t, 1, "amount") == "-2.50");
  CHECK(cell(t, 1, "balance") == "97.50");
  CHECK(cell(t, 2, "kind") == "sale");
  CHECK(cell(t, 2, "receipt") == "2");
  CHECK(cell(t, 5, "kind") == "refund");
  CHECK(cell(t, 5, "balance") == "135.40");
  CHECK(cell(t, 6, "kind") == "consumption");
  CHECK(cell(t, 6, "band") == "peak");
  CHECK(cell(t, 6, "quantity") == "8000");
  CHECK(cell(t, 6, "amount") == "-4.00");
  CHECK(cell(t, 7, "band") == "valley");
  CHECK(cell(t, 8, "kind") == "closing");
  CHECK(cell(t, 8, "amount") == "35.40");
  CHECK(cell(t, 8, "balance") == "135.40");
  CHECK(cell(t, 8, "note").find("opening 100.00 + movements 35.40 = closing 135.40") != std::string::npos);
}

TEST_CASE("Report statement: a closing balance that differs from the account's balance is reported") {
  test::ReportSite site;
  site.book(1, at("2026-11-03T10:00:00Z"), "sale", 5000);
  auto ok = statement(site.db(), statement_of("A1", "2026-11-01", "2026-11-30"));
  CHECK(ok.discrepancy.empty());
  site.db().exec("UPDATE accounts SET balance = 4000 WHERE id = 1");
  auto bad = statement(site.db(), statement_of("A1", "2026-11-01", "2026-11-30"));
  CHECK(bad.discrepancy.find("40.00") != std::string::npos);
  CHECK(cell(bad.table, bad.table.rows.size() - 1, "note").find("DOES NOT AGREE") != std::string::npos);
  CHECK_THROWS_AS(statement(site.db(), statement_of("nobody", "2026-11-01", "2026-11-30")), Error);
}
