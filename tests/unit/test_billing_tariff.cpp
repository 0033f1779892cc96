#include <doctest/doctest.h>

#include "test_billing_fixture.hpp"

#include <kwh/billing/charge.hpp>
#include <kwh/billing/tariff.hpp>
#include <kwh/util/time.hpp>

using namespace kwh;
using namespace kwh::billing;

namespace {

const char* k_tou = R"(effective = "2026-01-01"
unit = "kWh"
[bands]
peak = "1.2000"
flat = "0.8000"
valley = "0.3500"
[[windows]]
band = "peak"
from = "08:00"
to = "11:00"
days = ["mon", "tue", "wed", "thu", "fri"]
[[windows]]
band = "valley"
from = "23:00"
to = "07:00"
)";

UnixTime utc(const char* text) {
  auto t = parse_time(text);
  REQUIRE(t.ok());
  return *t;
}

std::string error_of(const std::string& body) {
  try {
    parse_tariff(body, "t.toml", 0);
  } catch (const Error& e) {
    CHECK(e.code() == Exit::data);
    return e.what();
  }
  FAIL("expected an error");
  return {};
}

} // namespace

TEST_CASE("Tariff: a time-of-use file parses into bands and windows") {
  auto v = parse_tariff(k_tou, "t.toml", 0);
  CHECK(v.kind == TariffKind::tou);
  CHECK(v.effective == utc("2026-01-01T00:00:00Z"));
  CHECK(v.bands.at("peak").ten_thousandths() == 12000);
  CHECK(v.bands.at("valley").ten_thousandths() == 3500);
  REQUIRE(v.windows.size() == 2);
  CHECK(v.windows[1].from_minute == 23 * 60);
  CHECK(v.windows[1].to_minute == 7 * 60);
}

TEST_CASE("Tariff: bad files name file:line and the key") {
  std::string e = error_of("unit = \"kWh\"\nprice = \"1.0\"\ncolour = \"red\"\n");
  CHECK(e.find("t.toml:3") != std::string::npos);
  CHECK(e.find("colour") != std::string::npos);

  e = error_of("price = \"1.00001\"\n");
  CHECK(e.find("t.toml:1") != std::string::npos);
  CHECK(e.find("price") != std::string::npos);

  e = error_of("price = 1.5\n");
  CHECK(e.find("price") != std::string::npos);

  e = error_of("[bands]\nflat = \"1\"\n[[windows]]\nband = \"peak\"\nfrom = \"08:00\"\nto = \"25:00\"\n");
  CHECK(e.find("windows.to") != std::string::npos);
  e = error_of("[bands]\nflat = \"1\"\npeak = \"2\"\n[[windows]]\nband = \"peak\"\nfrom = \"24:00\"\nto = \"08:00\"\n");
  CHECK(e.find("windows.from: 24:00 ends a day") != std::string::npos);

  e = error_of("[bands]\nflat = \"1\"\n[[windows]]\nband = \"peak\"\nfrom = \"08:00\"\nto = \"09:00\"\n");
  CHECK(e.find("peak") != std::string::npos); // a window's band needs a price

  e = error_of("[bands]\nflat = \"1\"\n[[windows]]\nband = \"peak\"\nfrom = \"08:00\"\nto = \"09:00\"\ndays = [\"mo\"]\n");
  CHECK(e.find("t.toml:7") != std::string::npos);

  e = error_of("[[tiers]]\nupto = \"100\"\nprice = \"0.5\"\n[[tiers]]\nupto = \"50\"\nprice = \"0.8\"\n[[tiers]]\nprice = \"1\"\n");
  CHECK(e.find("ascending") != std::string::npos);

  e = error_of("unit = \"kwh\"\nprice = \"1\"\n");
  CHECK(e.find("unit") != std::string::npos);
  e = error_of("effective = \"2026-13-01\"\nprice = \"1\"\n");
  CHECK(e.find("effective") != std::string::npos);
  e = error_of("price = \"1\"\n[bands]\nflat = \"1\"\n");
  CHECK(e.find("exactly one") != std::string::npos);
  e = error_of("price = \"1\"\nstanding_charge = \"1.50\"\n");
  CHECK(e.find("standing_period") != std::string::npos);
  e = error_of("this is not toml");
  CHECK(e.find("t.toml:1") != std::string::npos);
}

TEST_CASE("Tariff: a window across midnight covers the evening and the next morning") {
  auto v = parse_tariff(k_tou, "t.toml", 0);
  // 2026-11-23 is a Monday.
  CHECK(v.band_at(utc("2026-11-23T22:59:59Z")) == "flat");
  CHECK(v.band_at(utc("2026-11-23T23:00:00Z")) == "valley");
  CHECK(v.band_at(utc("2026-11-24T03:00:00Z")) == "valley");
  CHECK(v.band_at(utc("2026-11-24T06:59:59Z")) == "valley");
  CHECK(v.band_at(utc("2026-11-24T07:00:00Z")) == "flat");
  CHECK(v.band_at(utc("2026-11-24T08:00:00Z")) == "peak");
  CHECK(v.band_at(utc("2026-11-24T11:00:00Z")) == "flat");
}

TEST_CASE("Tariff: windows are in site time, not UTC") {
  test::SiteZone zone("Asia/Shanghai");
  auto v = parse_tariff(k_tou, "t.toml", 0);
  CHECK(v.effective == utc("2025-12-31T16:00:00Z")); // the site-local date's midnight
  // 2026-11-23T01:00Z is Monday 09:00 in Shanghai: peak. In UTC it would be valley.
  CHECK(v.band_at(utc("2026-11-23T01:00:00Z")) == "peak");
  CHECK(v.band_at(utc("2026-11-23T15:30:00Z")) == "valley"); // 23:30 local
  CHECK(v.band_at(utc("2026-11-23T23:30:00Z")) == "flat");   // 07:30 local on Tuesday
  auto secs = v.band_seconds(utc("2026-11-22T16:00:00Z"), utc("2026-11-23T16:00:00Z")); // Monday, local
  CHECK(secs["valley"] == 8 * 3600);
  CHECK(secs["peak"] == 3 * 3600);
  CHECK(secs["flat"] == 13 * 3600);
}

TEST_CASE("Tariff: day-of-week windows apply only on their days") {
  auto v = parse_tariff(k_tou, "t.toml", 0);
  CHECK(v.band_at(utc("2026-11-27T09:00:00Z")) == "peak"); // Friday
  CHECK(v.band_at(utc("2026-11-28T09:00:00Z")) == "flat"); // Saturday
  CHECK(v.band_at(utc("2026-11-29T09:00:00Z")) == "flat"); // Sunday
  auto weekend = v.band_seconds(utc("2026-11-28T00:00:00Z"), utc("2026-11-29T00:00:00Z"));
  CHECK(weekend["peak"] == 0);
  CHECK(weekend["valley"] == 8 * 3600);
  CHECK(weekend["flat"] == 16 * 3600);

  // A window that crosses midnight belongs to the day it starts on.
  auto fri = parse_tariff("[bands]\nflat = \"1\"\nvalley = \"0.5\"\n[[windows]]\nband = \"valley\"\n"
                          "from = \"23:00\"\nto = \"07:00\"\ndays = [\"fri\"]\n",
                          "t.toml", 0);
  CHECK(fri.band_at(utc("2026-11-27T23:30:00Z")) == "valley"); // Friday evening
  CHECK(fri.band_at(utc("2026-11-28T03:00:00Z")) == "valley"); // Saturday morning, Friday's window
  CHECK(fri.band_at(utc("2026-11-28T23:30:00Z")) == "flat");   // Saturday evening
  CHECK(fri.band_at(utc("2026-11-27T03:00:00Z")) == "flat");   // Friday morning is Thursday's
}

TEST_CASE("Tariff: without band registers, time-of-use splits the consumption by time in each band") {
  auto v = parse_tariff(k_tou, "t.toml", 0);
  // Monday 07:00-11:00: 1 h flat, 3 h peak; 4 000 Wh -> 1 000 flat, 3 000 peak.
  auto pieces = price_pieces(v, 4000, utc("2026-11-23T07:00:00Z"), utc("2026-11-23T11:00:00Z"), {}, 0);
  REQUIRE(pieces.size() == 2);
  CHECK(pieces[0].band == "flat");
  CHECK(pieces[0].quantity == 1000);
  CHECK(pieces[1].band == "peak");
  CHECK(pieces[1].quantity == 3000);
  // With registers, each band's own delta at its price.
  auto regs = price_pieces(v, 4000, 0, 3600, {{"peak", 100}, {"flat", 3900}, {"valley", 0}}, 0);
  REQUIRE(regs.size() == 2);
  CHECK(regs[0].band == "peak");
  CHECK(regs[0].quantity == 100);
  CHECK(regs[0].price.ten_thousandths() == 12000);
}

TEST_CASE("Tariff: tier pieces split a charge that straddles a tier boundary") {
  auto v = parse_tariff("[[tiers]]\nupto = \"100\"\nprice = \"0.5\"\n[[tiers]]\nupto = 200\nprice = \"0.8\"\n"
                        "[[tiers]]\nprice = \"1.0\"\n",
                        "t.toml", 0);
  auto p = price_pieces(v, 150'000, 0, 3600, {}, 90'000);
  REQUIRE(p.size() == 3);
  CHECK(p[0].band == "tier1");
  CHECK(p[0].quantity == 10'000);
  CHECK(p[1].band == "tier2");
  CHECK(p[1].quantity == 100'000);
  CHECK(p[2].band == "tier3");
  CHECK(p[2].quantity == 40'000);
}

TEST_CASE("Tariff: monthly tiers count the account's consumption in the site-local month") {
  test::BillingFixture f;
  auto m = f.add_meter("M1");
  f.add_tariff("tiered", "[[tiers]]\nupto = \"100\"\nprice = \"0.5000\"\n[[tiers]]\nprice = \"0.8000\"\n");
  f.open("A1", "tiered", {"M1"});
  f.pay("A1", 100'000);
  f.ingest(m, utc("2026-03-01T00:00:00Z"), 0);
  f.ingest(m, utc("2026-03-10T00:00:00Z"), 90'000); // 90 kWh at 0.50 = 45.00
  CHECK(f.balance("A1") == 100'000 - 4500);
  f.ingest(m, utc("2026-03-20T00:00:00Z"), 110'000); // 10 at 0.50 + 10 at 0.80 = 13.00
  CHECK(f.balance("A1") == 100'000 - 4500 - 1300);
  // Charged into the day's accumulator of band tier2, posted when the day is over.
  CHECK(f.count("SELECT count(*) FROM accumulators WHERE band = 'tier2'") == 1);
  CHECK(f.post_days() == 2);
  CHECK(f.count("SELECT count(*) FROM ledger WHERE kind = 'charge' AND band = 'tier2'") == 1);
  f.ingest(m, utc("2026-03-31T23:00:00Z"), 120'000); // 10 more at 0.80 = 8.00
  CHECK(f.balance("A1") == 100'000 - 4500 - 1300 - 800);
  // April starts again at tier 1.
  f.ingest(m, utc("2026-04-02T00:00:00Z"), 130'000); // 10 at 0.50 = 5.00
  CHECK(f.balance("A1") == 100'000 - 4500 - 1300 - 800 - 500);
}

TEST_CASE("Tariff: tier months are the site's months, not UTC's") {
  test::SiteZone zone("Asia/Shanghai");
  test::BillingFixture f;
  auto m = f.add_meter("M1");
  f.add_tariff("tiered", "[[tiers]]\nupto = \"100\"\nprice = \"0.5000\"\n[[tiers]]\nprice = \"0.8000\"\n");
  f.open("A1", "tiered", {"M1"});
  f.pay("A1", 100'000);
  f.ingest(m, utc("2026-03-25T00:00:00Z"), 0);
  f.ingest(m, utc("2026-03-31T12:00:00Z"), 100'000); // March 31 20:00 local: 100 kWh at 0.50
  CHECK(f.balance("A1") == 100'000 - 5000);
  // 2026-03-31T17:00Z is already April 1st 01:00 in Shanghai: a new month, tier 1 again.
  f.ingest(m, utc("2026-03-31T17:00:00Z"), 110'000);
  CHECK(f.balance("A1") == 100'000 - 5000 - 500);
}

TEST_CASE("Tariff: a charge uses the version in force, split where a new version starts") {
  test::BillingFixture f;
  auto m = f.add_meter("M1");
  f.add_tariff("std", "effective = \"2026-01-01\"\nprice = \"1.0000\"\n");
  f.add_tariff("std", "effective = \"2026-06-01\"\nprice = \"2.0000\"\n");
  CHECK_THROWS_AS(f.add_tariff("std", "effective = \"2026-06-01\"\nprice = \"3.0000\"\n"), Error);
  f.open("A1", "std", {"M1"});
  f.pay("A1", 100'000);
  f.ingest(m, utc("2026-05-01T00:00:00Z"), 0);
  f.ingest(m, utc("2026-05-31T00:00:00Z"), 10'000); // 10 kWh at 1.00
  CHECK(f.balance("A1") == 100'000 - 1000);
  f.ingest(m, utc("2026-06-02T00:00:00Z"), 20'000); // 2 days: 5 kWh at 1.00 and 5 kWh at 2.00
  CHECK(f.balance("A1") == 100'000 - 1000 - 500 - 1000);
  CHECK(f.count("SELECT count(*) FROM ledger WHERE kind = 'charge' AND t1 = " +
                std::to_string(utc("2026-06-01T00:00:00Z"))) == 1);
  f.ingest(m, utc("2026-06-03T00:00:00Z"), 30'000); // all in the new version
  CHECK(f.balance("A1") == 100'000 - 1000 - 500 - 1000 - 2000);
}

TEST_CASE("Tariff: a water meter needs a tariff per m3") {
  test::BillingFixture f;
  f.add_meter("W1", "water");
  f.add_meter("E1");
  f.add_flat("power", "1.0000");
  f.add_tariff("water", "unit = \"m3\"\nprice = \"3.5000\"\n");
  CHECK_THROWS_AS(f.open("A1", "power", {"W1"}), Error);
  f.open("A2", "water", {"W1"});
  CHECK_THROWS_AS(f.open("A3", "water", {"E1"}), Error);
}
