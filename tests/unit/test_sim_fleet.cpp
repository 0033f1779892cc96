// The simulated meters: energy grows with the load while the relay is closed, bands sum to the
// total, writes are honoured and read back, and every built-in profile can be simulated.

#include <kwh/modbus/profile.hpp>
#include <kwh/modbus/value.hpp>
#include <kwh/sim/faults.hpp>
#include <kwh/sim/fleet.hpp>

#include <doctest/doctest.h>

using namespace kwh;
using namespace std::chrono_literals;
using transport::Request;

namespace {

// Reads a profile value from the fleet through Modbus, decoded as a client would.
double read_value(sim::Fleet& fleet, int meter, const char* name, sim::Fleet::Clock::time_point at) {
  const auto* v = fleet.profile().find(name);
  REQUIRE(v);
  auto req = v->table == modbus::Table::input ? Request::read_input(1, v->address, static_cast<std::uint16_t>(v->words()))
                                              : Request::read_holding(1, v->address, static_cast<std::uint16_t>(v->words()));
  auto r = fleet.handle(meter, req, at);
  REQUIRE(r.ok());
  auto value = modbus::decode(*v, r->words, fleet.profile().word_order);
  REQUIRE(value);
  return value->real;
}

} // namespace

TEST_CASE("Sim: energy grows with the load while the relay is closed and stops while it is open") {
  auto t0 = sim::Fleet::Clock::now();
  // Speed 3600: one real second is one simulated hour.
  sim::Fleet fleet(*modbus::builtin_profile("acrel-ddsy1352"), 3, 2000, 3600, 1'790'000'000, t0);
  double e0 = read_value(fleet, 1, "energy_total", t0);
  double e1 = read_value(fleet, 1, "energy_total", t0 + 1s);
  double load = fleet.load_w(1);
  CHECK(load >= 1600);
  CHECK(load <= 2400);
  // One simulated hour at the meter's load, to the register's 10 Wh.
  CHECK(e1 - e0 == doctest::Approx(load).epsilon(0.02));
  CHECK(fleet.load_w(0) != fleet.load_w(1));

  const auto& relay = *fleet.profile().relay;
  auto off = fleet.handle(1, Request::write_registers(2, relay.address, relay.off), t0 + 1s);
  REQUIRE(off.ok());
  CHECK(!fleet.relay_closed(1));
  auto state = fleet.handle(1, Request::read_holding(2, relay.address, 2), t0 + 2s);
  REQUIRE(state.ok());
  CHECK(state->words == relay.off);
  double e2 = read_value(fleet, 1, "energy_total", t0 + 5s);
  CHECK(e2 == e1);
  CHECK(read_value(fleet, 1, "power_total", t0 + 5s) == 0);

  REQUIRE(fleet.handle(1, Request::write_registers(2, relay.address, relay.on), t0 + 5s).ok());
  CHECK(read_value(fleet, 1, "energy_total", t0 + 6s) > e2);
  // A word pair that is neither on nor off is refused.
  auto bad = fleet.handle(1, Request::write_registers(2, relay.address, {7, 7}), t0 + 6s);
  REQUIRE(!bad.ok());
  CHECK(bad.failure().exception_code == 3);
}

TEST_CASE("Sim: the band registers sum to the total, and grow by the time of day") {
  auto t0 = sim::Fleet::Clock::now();
  // 2026-09-21 00:00 UTC; speed 3600 so that each second is an hour.
  sim::Fleet fleet(*modbus::builtin_profile("acrel-ddsy1352"), 1, 1000, 3600, 1'790'000'000 - 1'790'000'000 % 86400, t0);
  const char* bands[] = {"energy_sharp", "energy_peak", "energy_flat", "energy_valley"};
  auto at = t0;
  std::array<double, 4> before{};
  for (int b = 0; b < 4; ++b) before[static_cast<std::size_t>(b)] = read_value(fleet, 0, bands[b], at);
  for (int hour = 1; hour <= 24; ++hour) {
    at = t0 + std::chrono::seconds(hour);
    double sum = 0;
    for (auto* b : bands) sum += read_value(fleet, 0, b, at);
    CHECK(read_value(fleet, 0, "energy_total", at) == sum);
  }
  // Over a whole day: 2 h sharp, 5 h peak, 9 h flat, 8 h valley at 1000 W ± 20 %.
  double load = fleet.load_w(0);
  std::array<double, 4> hours{2, 5, 9, 8};
  for (int b = 0; b < 4; ++b)
    CHECK(read_value(fleet, 0, bands[b], at) - before[static_cast<std::size_t>(b)] ==
          doctest::Approx(hours[static_cast<std::size_t>(b)] * load).epsilon(0.01));
  CHECK(sim::band_at(19.5 * 3600) == sim::Band::sharp);
  CHECK(sim::band_at(3 * 3600) == sim::Band::valley);
}

TEST_CASE("Sim: settings writes are kept, and writes elsewhere are refused") {
  auto t0 = sim::Fleet::Clock::now();
  auto profile = modbus::parse_profile(R"(
name = "with-setting"
kind = "electricity"
[values.energy_total]
table = "holding"
address = 0
type = "u32"
[settings.overload_w]
table = "holding"
address = 0x100
type = "u16"
)",
                                       "test");
  sim::Fleet fleet(profile, 2, 500, 1, 1'790'000'000, t0);
  REQUIRE(fleet.handle(0, Request::write_register(1, 0x100, 4321), t0).ok());
  auto back = fleet.handle(0, Request::read_holding(1, 0x100, 1), t0);
  REQUIRE(back.ok());
  CHECK(back->words == std::vector<std::uint16_t>{4321});
  auto other = fleet.handle(1, Request::read_holding(1, 0x100, 1), t0);
  REQUIRE(other.ok());
  CHECK(other->words == std::vector<std::uint16_t>{0});
  auto energy = fleet.handle(0, Request::write_register(1, 0, 0), t0);
  REQUIRE(!energy.ok());
  CHECK(energy.failure().exception_code == 2);
  auto outside = fleet.handle(0, Request::read_holding(1, 0x200, 2), t0);
  REQUIRE(!outside.ok());
  CHECK(outside.failure().exception_code == 2);
  // A counter reset takes the energy to 0.
  fleet.reset(0, t0);
  CHECK(read_value(fleet, 0, "energy_total", t0) == 0);
}

TEST_CASE("Sim: a profile's [clock] shows the meter's clock, and a write of it whole sets it") {
  auto t0 = sim::Fleet::Clock::now();
  auto profile = modbus::parse_profile(R"(
name = "with-clock"
kind = "electricity"
[values.energy_total]
table = "holding"
address = 0
type = "u32"
[clock]
table = "holding"
address = 0x40
format = "ymdhms"
)",
                                       "test");
  sim::Fleet fleet(profile, 1, 500, 60, 1'790'000'000, t0);
  fleet.set_clock_drift(-90);
  // Real time, not simulated (60x here): 10 s after the start, 90 s behind. 1'789'999'920 is
  // 2026-09-21 14:12:00 UTC.
  auto clock = fleet.handle(0, Request::read_holding(1, 0x40, 6), t0 + 10s);
  REQUIRE(clock.ok());
  CHECK(clock->words == std::vector<std::uint16_t>{2026, 9, 21, 14, 12, 0});
  // Set to the real time: right from then on.
  REQUIRE(fleet.handle(0, Request::write_registers(1, 0x40, {2026, 9, 21, 14, 13, 30}), t0 + 10s).ok());
  CHECK(fleet.meter_clock(0, t0 + 10s) == 1'790'000'010);
  // A time that does not exist is refused (exception 3), and changes nothing.
  auto bad = fleet.handle(0, Request::write_registers(1, 0x40, {2026, 2, 30, 0, 0, 0}), t0 + 10s);
  REQUIRE(!bad.ok());
  CHECK(bad.failure().exception_code == 3);
  CHECK(fleet.meter_clock(0, t0 + 10s) == 1'790'000'010);
}

TEST_CASE("Sim: every built-in profile can be simulated and read back") {
  for (const auto& name : modbus::builtin_profile_names()) {
    CAPTURE(name);
    if (modbus::builtin_profile(name)->protocol != "modbus") continue; // served by the DL/T 645 side
    auto t0 = sim::Fleet::Clock::now();
    sim::Fleet fleet(*modbus::builtin_profile(name), 1, 2000, 60, 1'790'000'000, t0);
    for (const auto& v : fleet.profile().values) {
      if (modbus::is_bit_table(v.table)) continue;
      CAPTURE(v.name);
      read_value(fleet, 0, v.name.c_str(), t0 + 1s);
    }
    const auto* total = fleet.profile().total();
    REQUIRE(total);
    CHECK(read_value(fleet, 0, total->name.c_str(), t0 + 2s) > 0);
  }
}

TEST_CASE("Sim: fault specs parse, and a bad one names the item") {
  auto f = sim::parse_faults("drop=0.05,delay=300ms,late=0.02,exception=0.01,garbage=0.01,reset=0.001,silent-gateway=2,flap=5");
  REQUIRE(f.ok());
  CHECK(f->drop == 0.05);
  CHECK(f->delay == 300ms);
  CHECK(f->silent_gateway == 2);
  CHECK(f->flap_meter == 5);
  CHECK(f->any());
  CHECK(!sim::parse_faults("")->any());
  auto bad = sim::parse_faults("drop=2");
  REQUIRE(!bad.ok());
  CHECK(std::string(bad.error().what()).find("drop") != std::string::npos);
  CHECK(!sim::parse_faults("explode=1").ok());
  CHECK(!sim::parse_faults("delay=soon").ok());
}
