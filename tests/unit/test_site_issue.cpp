// Issuing tariffs to meters: the words of the prices and of the day plan, worked out by hand
// from Acrel's layout (14 slots of band, minute, hour), and what a meter cannot keep.

#include <doctest/doctest.h>

#include <kwh/billing/tariff.hpp>
#include <kwh/modbus/profile.hpp>
#include <kwh/site/issue.hpp>

#include <string>
#include <vector>

using namespace kwh;
using site::RegisterWrite;
using site::SwitchPoint;

namespace {

const char* k_profile = R"(name = "issuable"
kind = "electricity"
[values.energy_total]
table = "holding"
address = 0
type = "u32"
[tariff.prices]
table = "holding"
address = 0x0100
type = "u32"
decimals = 4
[tariff.plan]
table = "holding"
address = 0x0200
slots = 14
)";

// Sharp 19-21, peak 08-12, valley 23-07 (across midnight), flat otherwise; every day.
const char* k_tou = R"(effective = "2026-01-01"
[bands]
sharp = "1.4500"
peak = "1.1200"
flat = "0.7800"
valley = "0.3600"
[[windows]]
band = "sharp"
from = "19:00"
to = "21:00"
[[windows]]
band = "peak"
from = "08:00"
to = "12:30"
[[windows]]
band = "valley"
from = "23:00"
to = "07:00"
)";

modbus::TariffSpec spec() { return *modbus::parse_profile(k_profile, "i.toml").tariff; }

std::string error_of(const Result<std::vector<RegisterWrite>>& r) {
  REQUIRE(!r.ok());
  CHECK(r.error().code() == Exit::data);
  return r.error().what();
}

} // namespace

TEST_CASE("Issue: a day plan starts at 00:00 and lists each change of band") {
  auto v = billing::parse_tariff(k_tou, "t.toml", 0);
  auto plan = site::day_plan(v);
  REQUIRE(plan.ok());
  CHECK(*plan == std::vector<SwitchPoint>{{0, "valley"},
                                          {7 * 60, "flat"},
                                          {8 * 60, "peak"},
                                          {12 * 60 + 30, "flat"},
                                          {19 * 60, "sharp"},
                                          {21 * 60, "flat"},
                                          {23 * 60, "valley"}});
  CHECK(site::day_plan(billing::parse_tariff("price = \"0.85\"\n", "f.toml", 0)).value() ==
        std::vector<SwitchPoint>{{0, "flat"}});
}

TEST_CASE("Issue: prices and plan in Acrel's layout") {
  auto v = billing::parse_tariff(k_tou, "t.toml", 0);
  auto writes = site::tariff_writes(spec(), v);
  REQUIRE(writes.ok());
  REQUIRE(writes->size() == 2);
  // sharp 14500 = 0x000038A4, peak 11200 = 0x00002BC0, flat 7800 = 0x00001E78, valley 3600 = 0x00000E10.
  CHECK((*writes)[0] == RegisterWrite{"prices", 0x0100, {0, 0x38A4, 0, 0x2BC0, 0, 0x1E78, 0, 0x0E10}});
  // [band, minute, hour] × 14: valley = 4, flat = 3, peak = 2, sharp = 1; the last point repeated.
  std::vector<std::uint16_t> plan{4, 0, 0, 3, 0, 7, 2, 0, 8, 3, 30, 12, 1, 0, 19, 3, 0, 21, 4, 0, 23};
  for (int i = 7; i < 14; ++i) plan.insert(plan.end(), {4, 0, 23});
  CHECK((*writes)[1] == RegisterWrite{"plan", 0x0200, plan});
}

TEST_CASE("Issue: fewer decimals, 16-bit prices, another layout, and a flat tariff") {
  auto s = spec();
  s.prices->decimals = 2;
  s.prices->type = modbus::ValueType::u16;
  s.plan->slots = 2;
  s.plan->layout = {"hour", "minute", "band"};
  auto flat = billing::parse_tariff("price = \"0.85\"\n", "f.toml", 0);
  auto writes = site::tariff_writes(s, flat);
  REQUIRE(writes.ok());
  CHECK((*writes)[0] == RegisterWrite{"prices", 0x0100, {85, 85, 85, 85}});
  CHECK((*writes)[1] == RegisterWrite{"plan", 0x0200, {0, 0, 3, 0, 0, 3}});
  // 0.7850 needs four decimals.
  auto odd = billing::parse_tariff("price = \"0.7850\"\n", "f.toml", 0);
  CHECK(error_of(site::tariff_writes(s, odd)).find("the price 0.7850 has more than the 2 decimals the meter holds") !=
        std::string::npos);
  // 700.00 is 70000 counts: more than 16 bits.
  auto dear = billing::parse_tariff("price = \"700\"\n", "f.toml", 0);
  CHECK(error_of(site::tariff_writes(s, dear)).find("does not fit the meter's 16-bit register") != std::string::npos);
}

TEST_CASE("Issue: what a meter cannot keep is refused, naming why") {
  auto s = spec();
  CHECK(error_of(site::tariff_writes(s, billing::parse_tariff(
                                            "[[tiers]]\nupto = \"200\"\nprice = \"0.5\"\n[[tiers]]\nprice = \"0.8\"\n",
                                            "t.toml", 0)))
            .find("monthly tiers") != std::string::npos);
  const std::string weekdays = std::string(k_tou) + "[[windows]]\nband = \"peak\"\nfrom = \"14:00\"\nto = \"17:00\"\n"
                                                    "days = [\"mon\", \"tue\"]\n";
  CHECK(error_of(site::tariff_writes(s, billing::parse_tariff(weekdays, "t.toml", 0))).find("is not every day") !=
        std::string::npos);
  s.plan->slots = 6;
  CHECK(error_of(site::tariff_writes(s, billing::parse_tariff(k_tou, "t.toml", 0)))
            .find("its day plan has 7 switching points and the meter holds 6") != std::string::npos);
  s = spec();
  s.bands = {"peak", "flat", "valley"};
  CHECK(error_of(site::tariff_writes(s, billing::parse_tariff(k_tou, "t.toml", 0))).find("the meter has no band 'sharp'") !=
        std::string::npos);
}

TEST_CASE("Issue: a write travels as the command's argument and comes back the same") {
  RegisterWrite w{"tariff shops 2026-01-01 prices", 0x0100, {0, 0x38A4, 0xFFFF}};
  auto text = site::write_argument(w);
  CHECK(text == "tariff shops 2026-01-01 prices@0x0100=0x0000,0x38A4,0xFFFF");
  CHECK(site::parse_write_argument(text).value() == w);
  CHECK(!site::parse_write_argument("overload_w=5000"));
  CHECK(!site::parse_write_argument("x@0x0100="));
  CHECK(!site::parse_write_argument("x@0x10000=1"));
  CHECK(!site::parse_write_argument("x@0xFFFF=1,2"));
  CHECK(!site::parse_write_argument("x@1=0x10000"));
}

TEST_CASE("Issue: [tariff] in a profile") {
  auto p = modbus::parse_profile(k_profile, "i.toml");
  REQUIRE(p.tariff);
  CHECK(p.tariff->bands == std::vector<std::string>{"sharp", "peak", "flat", "valley"});
  CHECK(p.tariff->prices->address == 0x0100);
  CHECK(p.tariff->plan->slots == 14);
  auto error = [](const std::string& text) -> std::string {
    try {
      modbus::parse_profile(text, "i.toml");
    } catch (const Error& e) {
      CHECK(e.code() == Exit::config);
      return e.what();
    }
    return "(parsed)";
  };
  const std::string base = "name = \"x\"\nkind = \"electricity\"\n[values.energy_total]\ntable = \"holding\"\naddress = 0\ntype = \"u32\"\n";
  CHECK(error(base + "[tariff]\nbands = [\"flat\"]\n").find("tariff: needs [tariff.prices], [tariff.plan] or both") !=
        std::string::npos);
  CHECK(error(base + "[tariff]\nbands = [\"night\"]\n[tariff.plan]\ntable = \"holding\"\naddress = 1\n")
            .find("tariff.bands: 'night' is not a band") != std::string::npos);
  CHECK(error(base + "[tariff.plan]\ntable = \"holding\"\naddress = 1\nslots = 42\n").find("tariff.plan.slots: 42 is out of range") !=
        std::string::npos);
  CHECK(error(base + "[tariff.plan]\ntable = \"holding\"\naddress = 1\nlayout = [\"band\", \"band\", \"hour\"]\n")
            .find("tariff.plan.layout: must name band, minute and hour once each") != std::string::npos);
  CHECK(error(base + "[tariff.prices]\ntable = \"holding\"\naddress = 1\ntype = \"f32\"\n")
            .find("tariff.prices.type: must be u16 or u32, not 'f32'") != std::string::npos);
  CHECK(error(base + "[tariff.prices]\ntable = \"input\"\naddress = 1\n").find("tariff.prices.table: must be holding") !=
        std::string::npos);
}

TEST_CASE("Issue: a purchase is the amount in the meter's decimals, then its number") {
  modbus::PurchaseSpec p;
  p.address = 0x0400;
  CHECK(site::purchase_write(p, 20000, 2, 1).value() == RegisterWrite{"purchase", 0x0400, {0, 0x4E20, 1}});
  p.decimals = 3;
  CHECK(site::purchase_write(p, 5050, 2, 12).value() == RegisterWrite{"purchase", 0x0400, {0, 0xC544, 12}});
  p.decimals = 0;
  p.type = modbus::ValueType::u16;
  CHECK(site::purchase_write(p, 20000, 2, 3).value() == RegisterWrite{"purchase", 0x0400, {200, 3}});
  auto cents = site::purchase_write(p, 20050, 2, 3);
  REQUIRE(!cents.ok());
  CHECK(std::string(cents.error().what()).find("200.50 has more than the 0 decimals the meter takes") != std::string::npos);
  CHECK(!site::purchase_write(p, 6553600, 2, 3).ok()); // 65536 does not fit 16 bits
  CHECK(!site::purchase_write(p, 100, 2, 65536).ok());
  CHECK(!site::purchase_write(p, 0, 2, 1).ok());
}

TEST_CASE("Issue: [purchase] needs the meter's own balance") {
  const std::string base = "name = \"x\"\nkind = \"electricity\"\n[values.energy_total]\ntable = \"holding\"\naddress = 0\ntype = \"u32\"\n";
  const std::string purchase = "[purchase]\ntable = \"holding\"\naddress = 0x0400\n";
  try {
    modbus::parse_profile(base + purchase, "p.toml");
    FAIL("parsed");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("purchase: a meter that takes purchases keeps a balance") != std::string::npos);
  }
  auto p = modbus::parse_profile(base + "[values.meter_balance]\ntable = \"holding\"\naddress = 0x10\ntype = \"i32\"\n" + purchase,
                                 "p.toml");
  REQUIRE(p.purchase);
  CHECK(p.purchase->words() == 3);
  CHECK(p.purchase->decimals == 2);
}
