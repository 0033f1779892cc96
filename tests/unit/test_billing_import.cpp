#include <doctest/doctest.h>

#include "test_billing_fixture.hpp"

#include <kwh/billing/import.hpp>
#include <kwh/ledger/ledger.hpp>
#include <kwh/readings/store.hpp>

#include <sstream>

using namespace kwh;
using namespace kwh::billing;

namespace {

ImportSummary import(test::BillingFixture& f, const std::string& text) {
  std::istringstream in(text);
  return import_readings(*f.db, f.config, in, "r.csv", [] { return UnixTime(1'800'000'000); });
}

std::string import_error(test::BillingFixture& f, const std::string& text) {
  try {
    import(f, text);
  } catch (const Error& e) {
    CHECK(e.code() == Exit::data);
    return e.what();
  }
  FAIL("expected an error");
  return {};
}

} // namespace

TEST_CASE("Billing: an import is billed in time order whatever the order of the file") {
  test::BillingFixture f;
  f.add_meter("M1");
  f.add_meter("W1", "water");
  f.add_flat("std", "1.0000");
  f.add_tariff("water", "unit = \"m3\"\nprice = \"4.0000\"\n");
  f.open("A1", "std", {"M1"});
  f.open("A2", "water", {"W1"});
  f.pay("A1", 10'000);
  f.pay("A2", 10'000);
  auto s = import(f, "meter,time,energy_total,volume_total,power_total\n"
                     "M1,1970-01-01T02:00:00Z,3000,,1500.5\n"
                     "W1,1970-01-01T01:00:00Z,,2500,\n"
                     "M1,1970-01-01T00:00:00Z,1000,,\n"
                     "\n"
                     "W1,1970-01-01T00:00:00Z,,500,\n"
                     "M1,1970-01-01T01:00:00Z,2000,,\n"
                     "M1,1970-01-01T01:00:00Z,2000,,\n");
  CHECK(s.lines == 6);
  CHECK(s.stored == 5);
  CHECK(s.skipped == 1);
  CHECK(f.balance("A1") == 10'000 - 200); // 2 kWh at 1.00
  CHECK(f.balance("A2") == 10'000 - 800); // 2 000 L = 2 m3 at 4.00
  // Imported readings are stored in blocks, flagged imported.
  CHECK(f.count("SELECT count(*) FROM readings") == 0);
  CHECK(readings::count(*f.db) == 5);
  int imported = 0;
  for (std::int64_t m : {1, 2})
    readings::scan(*f.db, m, 0, 86'400, [&](const readings::Reading& r) {
      imported += (r.flags & readings::k_flag_imported) ? 1 : 0;
      return true;
    });
  CHECK(imported == 5);
  CHECK(readings::at(*f.db, 1, 7200)->power == 1500);
  // The same file again is all skipped.
  auto again = import(f, "meter,time,energy_total\nM1,1970-01-01T02:00:00Z,3000\n");
  CHECK(again.skipped == 1);
  CHECK(again.stored == 0);
  CHECK(ledger::verify(*f.db).empty());
}

TEST_CASE("Billing: an import with bad lines is rejected whole, naming every bad line") {
  test::BillingFixture f;
  f.add_meter("M1");
  f.add_meter("W1", "water");
  f.add_flat("std", "1.0000");
  f.open("A1", "std", {"M1"});
  import(f, "meter,time,energy_total\nM1,1970-01-01T10:00:00Z,1000\n");
  std::string e = import_error(f, "meter,time,energy_total\n"
                                  "M1,1970-01-01T11:00:00Z,2000\n"    // 2: good
                                  "M1,1970-01-01T10:00:00Z,999\n"     // 3: another value at a stored time
                                  "M1,1970-01-01T09:00:00Z,500\n"     // 4: older than the latest
                                  "M2,1970-01-01T11:00:00Z,1\n"       // 5: no such meter
                                  "M1,tomorrow,1\n"                   // 6: bad time
                                  "M1,1970-01-01T12:00:00Z,-5\n"      // 7: negative
                                  "M1,1970-01-01T13:00:00Z\n"         // 8: too few fields
                                  "W1,1970-01-01T13:00:00Z,100\n"     // 9: water without volume_total
                                  "M1,1970-01-01T11:00:00Z,2001\n");  // 10: differs from line 2
  CHECK(e.find("r.csv: rejected, nothing imported: bad lines 3, 4, 5, 6, 7, 8, 9, 10") != std::string::npos);
  CHECK(e.find("line 5: no such meter: M2") != std::string::npos);
  CHECK(readings::count(*f.db) == 1);

  // A file of bad lines stays one readable line: the first 50 numbers, then how many more.
  std::string many = "meter,time,energy_total\n";
  for (int i = 0; i < 1000; ++i) many += "M1,yesterday,1\n";
  e = import_error(f, many);
  CHECK(e.find("bad lines 2, 3, 4, ") != std::string::npos);
  CHECK(e.find(", 51 and 950 more (1000 in all); line 2: ") != std::string::npos);
  CHECK(e.find(", 52") == std::string::npos);
  CHECK(e.size() < 2000);

  e = import_error(f, "meter,time,energy_total,colour\n");
  CHECK(e.find("r.csv:1") != std::string::npos);
  CHECK(e.find("colour") != std::string::npos);
  e = import_error(f, "time,meter,energy_total\n");
  CHECK(e.find("meter,time") != std::string::npos);
  e = import_error(f, "");
  CHECK(e.find("empty") != std::string::npos);
}
