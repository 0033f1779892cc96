#include <doctest/doctest.h>

#include <kwh/site/live.hpp>

using namespace kwh;
using namespace kwh::site;
using transport::Function;

namespace {

Meter meter_at(int unit) {
  Meter m;
  m.name = "M1";
  m.gateway = "G1";
  m.unit = unit;
  return m;
}

modbus::Profile with_relay(const char* relay_toml) {
  std::string text = std::string("name = \"r\"\nkind = \"electricity\"\n[values.energy_total]\ntable = \"holding\"\n"
                                 "address = 0\ntype = \"u32\"\nscale = 10\n") +
                     relay_toml;
  return modbus::parse_profile(text, "test.toml");
}

} // namespace

TEST_CASE("Site: relay words go out with function 16 by default, 6 when single, 5 for a coil") {
  SUBCASE("holding, several words") {
    auto p = with_relay("[relay]\ntable = \"holding\"\naddress = 0x57\non = [1, 0]\noff = [1, 1]\n");
    auto off = relay_write_request(meter_at(7), p, false);
    CHECK(off.function == Function::write_multiple_registers);
    CHECK(off.unit == 7);
    CHECK(off.address == 0x57);
    CHECK(off.values == std::vector<std::uint16_t>{1, 1});
    CHECK(relay_write_request(meter_at(7), p, true).values == std::vector<std::uint16_t>{1, 0});
    auto back = relay_read_request(meter_at(7), p);
    CHECK(back.function == Function::read_holding);
    CHECK(back.count == 2);
  }
  SUBCASE("holding, one word, write = single") {
    auto p = with_relay("[relay]\ntable = \"holding\"\naddress = 0x10\non = 0x55\noff = 0xAA\nwrite = \"single\"\n");
    auto on = relay_write_request(meter_at(1), p, true);
    CHECK(on.function == Function::write_single_register);
    CHECK(on.values == std::vector<std::uint16_t>{0x55});
  }
  SUBCASE("one word without write = single still uses function 16") {
    auto p = with_relay("[relay]\ntable = \"holding\"\naddress = 0x10\non = 1\noff = 0\n");
    CHECK(relay_write_request(meter_at(1), p, true).function == Function::write_multiple_registers);
  }
  SUBCASE("coil") {
    auto p = with_relay("[relay]\ntable = \"coil\"\naddress = 3\non = 1\noff = 0\n");
    auto off = relay_write_request(meter_at(2), p, false);
    CHECK(off.function == Function::write_single_coil);
    CHECK(off.address == 3);
    REQUIRE_FALSE(off.values.empty());
    CHECK(off.values[0] == 0);
    CHECK(relay_read_request(meter_at(2), p).function == Function::read_coils);
  }
}

TEST_CASE("Site: a relay read-back is on, off, or unknown when it matches neither") {
  modbus::RelaySpec holding;
  holding.table = modbus::Table::holding;
  holding.on = {1, 0};
  holding.off = {1, 1};
  transport::Response r;
  r.words = {1, 0};
  CHECK(relay_readback_state(holding, r) == "on");
  CHECK(readback_text(holding, r) == "0x0001 0x0000");
  r.words = {1, 1};
  CHECK(relay_readback_state(holding, r) == "off");
  r.words = {0, 7};
  CHECK(relay_readback_state(holding, r) == "unknown");
  r.words = {1};
  CHECK(relay_readback_state(holding, r) == "unknown");

  modbus::RelaySpec coil;
  coil.table = modbus::Table::coil;
  coil.on = {1};
  coil.off = {0};
  transport::Response b;
  b.bits = {true};
  CHECK(relay_readback_state(coil, b) == "on");
  CHECK(readback_text(coil, b) == "1");
  b.bits = {false};
  CHECK(relay_readback_state(coil, b) == "off");
}
