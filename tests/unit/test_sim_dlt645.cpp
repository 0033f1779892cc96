// The simulator's DL/T 645-2007 meters, fed request frames without sockets: reads decode (as
// kwhd decodes them) to the fleet's values, status word 3 follows the relay, relay control wants
// the password, and a frame for another address gets no answer.

#include <kwh/dlt645/frame.hpp>
#include <kwh/dlt645/identifiers.hpp>
#include <kwh/modbus/profile.hpp>
#include <kwh/sim/dlt645_server.hpp>
#include <kwh/sim/fleet.hpp>

#include <doctest/doctest.h>

#include <cmath>

using namespace kwh;
using namespace std::chrono_literals;

namespace {

const std::array<std::uint8_t, 4> k_password{0x02, 0x00, 0x00, 0x00};

sim::Fleet dlt645_fleet(int meters, sim::Fleet::Clock::time_point t0) {
  return sim::Fleet(*modbus::builtin_profile("acrel-dtsy1352-dlt645"), meters, 2000, 3600, 1'790'000'000, t0);
}

// The reply of meter `index` to `request`, through the bytes on the wire and back.
std::optional<dlt645::Frame> ask(sim::Fleet& fleet, int index, const dlt645::Frame& request, sim::Fleet::Clock::time_point at,
                                 const std::array<std::uint8_t, 4>& password = k_password) {
  auto in = dlt645::decode_frame(dlt645::encode_frame(request));
  REQUIRE(in);
  auto reply = sim::dlt645_answer(fleet, index, *in, password, at);
  if (!reply) return std::nullopt;
  auto out = dlt645::decode_frame(dlt645::encode_frame(*reply));
  REQUIRE(out);
  return *out;
}

// Reads identifier `name` of meter `index` as kwhd does: the raw number and the canonical value.
dlt645::Value read(sim::Fleet& fleet, int index, std::string_view name, sim::Fleet::Clock::time_point at) {
  const auto* id = dlt645::find_identifier(name);
  REQUIRE(id);
  auto address = sim::dlt645_address(index);
  auto reply = ask(fleet, index, dlt645::read_request(address, id->di), at);
  REQUIRE(reply);
  auto r = dlt645::decode_read_reply(*reply, address, id->di);
  if (!r) FAIL(r.error().what());
  auto v = dlt645::decode_value(*id, r->value);
  if (!v) FAIL(v.error().what());
  return *v;
}

dlt645::Frame relay(const dlt645::Address& to, dlt645::RelayAction action, std::array<std::uint8_t, 4> password = k_password) {
  dlt645::RelayCommand c;
  c.action = action;
  c.password = password;
  c.valid_until = LocalTime{2026, 9, 21, 12, 0, 0};
  return dlt645::relay_request(to, c);
}

} // namespace

TEST_CASE("Sim DL/T 645: meter m has the address m in 12 digits, and only its gateway's meters answer") {
  CHECK(sim::dlt645_address(0).format() == "000000000001");
  CHECK(sim::dlt645_address(11).format() == "000000000012");
  auto for_meter = [](const char* address) {
    return dlt645::read_request(*dlt645::Address::parse(address), 0x00010000);
  };
  // Meters 4..6 (indexes 3..5) on the second gateway of three meters each.
  CHECK(sim::dlt645_addressee(for_meter("000000000004"), 3, 3) == 3);
  CHECK(sim::dlt645_addressee(for_meter("000000000006"), 3, 3) == 5);
  CHECK(!sim::dlt645_addressee(for_meter("000000000001"), 3, 3));
  CHECK(!sim::dlt645_addressee(for_meter("000000000007"), 3, 3));
  CHECK(!sim::dlt645_addressee(for_meter("123456789012"), 3, 3));
  CHECK(!sim::dlt645_addressee(dlt645::broadcast_time_request(LocalTime{2026, 9, 21, 12, 0, 0}), 0, 3));
  // The wildcard reaches the one meter of a bus, and nobody where there are several.
  CHECK(sim::dlt645_addressee(dlt645::read_address_request(), 6, 1) == 6);
  CHECK(!sim::dlt645_addressee(dlt645::read_address_request(), 0, 3));

  auto t0 = sim::Fleet::Clock::now();
  auto fleet = dlt645_fleet(3, t0);
  // Broadcast time and replies on the bus get no answer; read address gets the meter's address.
  CHECK(!ask(fleet, 0, dlt645::broadcast_time_request(LocalTime{2026, 9, 21, 12, 0, 0}), t0));
  CHECK(!ask(fleet, 0, dlt645::read_reply(sim::dlt645_address(0), 0x00010000, std::vector<std::uint8_t>{0, 0, 0, 0}), t0));
  auto who = ask(fleet, 2, dlt645::read_address_request(), t0);
  REQUIRE(who);
  auto address = dlt645::decode_address_reply(*who);
  REQUIRE(address);
  CHECK(address->format() == "000000000003");
}

TEST_CASE("Sim DL/T 645: energy reads decode to the fleet's bands, floored to 0.01 kWh, and the total is their sum") {
  auto t0 = sim::Fleet::Clock::now();
  auto fleet = dlt645_fleet(3, t0);
  for (auto at : {t0, t0 + 1s, t0 + 7s}) {
    auto total = read(fleet, 1, "energy_total", at);
    REQUIRE(total.integer);
    std::int64_t sum = 0, expected = 0;
    auto bands = fleet.bands(1, at);
    const char* names[] = {"energy_sharp", "energy_peak", "energy_flat", "energy_valley"};
    for (std::size_t b = 0; b < 4; ++b) {
      auto v = read(fleet, 1, names[b], at);
      REQUIRE(v.integer);
      CHECK(*v.integer % 10 == 0);
      sum += *v.integer;
      expected += static_cast<std::int64_t>(std::floor(bands[b] / 10) * 10);
    }
    CHECK(*total.integer == sum);
    CHECK(*total.integer == expected);
  }
  // An hour (one real second at 3600x) at the meter's load, to 10 Wh.
  auto e0 = *read(fleet, 1, "energy_total", t0 + 10s).integer;
  auto e1 = *read(fleet, 1, "energy_total", t0 + 11s).integer;
  CHECK(static_cast<double>(e1 - e0) == doctest::Approx(fleet.load_w(1)).epsilon(0.02));

  // The instantaneous values as the fleet computes them, in the identifiers' formats.
  CHECK(read(fleet, 0, "voltage_a", t0).real == doctest::Approx(*fleet.value(0, "voltage_a", t0)).epsilon(0.001));
  CHECK(read(fleet, 0, "power_total", t0).real == *fleet.value(0, "power_total", t0));
  CHECK(read(fleet, 0, "power_factor", t0).real == doctest::Approx(0.98));
  CHECK(read(fleet, 0, "frequency", t0).real == doctest::Approx(50).epsilon(0.001));
  CHECK(read(fleet, 0, "current_b", t0).real == doctest::Approx(*fleet.value(0, "current_b", t0)).epsilon(0.001));

  // What the fleet has no value for: the meter's "no requested data".
  auto address = sim::dlt645_address(0);
  auto balance = ask(fleet, 0, dlt645::read_request(address, dlt645::find_identifier("meter_balance")->di), t0);
  REQUIRE(balance);
  CHECK(dlt645::error_word(*balance) == dlt645::k_error_no_data);
  auto unknown = ask(fleet, 0, dlt645::read_request(address, 0x04000409), t0); // meter constant, not served
  REQUIRE(unknown);
  CHECK(dlt645::error_word(*unknown) == dlt645::k_error_no_data);
}

TEST_CASE("Sim DL/T 645: status word 3 says the relay is open after a trip, at the meter or by relay control") {
  auto t0 = sim::Fleet::Clock::now();
  auto fleet = dlt645_fleet(2, t0);
  auto address = sim::dlt645_address(0);
  CHECK(read(fleet, 0, "status_word_3", t0).raw == 0);

  // The meter's own trip (the trip fault).
  fleet.schedule_switch(1, t0 + 1s, false);
  CHECK(read(fleet, 1, "status_word_3", t0 + 500ms).raw == 0);
  CHECK(read(fleet, 1, "status_word_3", t0 + 2s).raw == dlt645::k_status3_relay_off);

  // Relay control: trip, then close; each a 9CH reply without data.
  auto trip = ask(fleet, 0, relay(address, dlt645::RelayAction::trip), t0 + 1s);
  REQUIRE(trip);
  CHECK(!dlt645::check_relay_reply(*trip, address));
  CHECK(!fleet.relay_closed(0));
  auto status = read(fleet, 0, "status_word_3", t0 + 2s);
  CHECK((status.raw & dlt645::k_status3_relay_off) != 0);
  // While open the energy stands still and the power is 0.
  auto e2 = *read(fleet, 0, "energy_total", t0 + 2s).integer;
  CHECK(*read(fleet, 0, "energy_total", t0 + 5s).integer == e2);
  CHECK(read(fleet, 0, "power_total", t0 + 5s).real == 0);

  auto close = ask(fleet, 0, relay(address, dlt645::RelayAction::close), t0 + 5s);
  REQUIRE(close);
  CHECK(!dlt645::check_relay_reply(*close, address));
  CHECK(read(fleet, 0, "status_word_3", t0 + 6s).raw == 0);
  CHECK(*read(fleet, 0, "energy_total", t0 + 6s).integer > e2);
}

TEST_CASE("Sim DL/T 645: relay control with a wrong password is refused, and the relay stays as it was") {
  auto t0 = sim::Fleet::Clock::now();
  auto fleet = dlt645_fleet(1, t0);
  auto address = sim::dlt645_address(0);
  auto reply = ask(fleet, 0, relay(address, dlt645::RelayAction::trip, {0x02, 0x12, 0x34, 0x56}), t0);
  REQUIRE(reply);
  CHECK(dlt645::error_word(*reply) == dlt645::k_error_unauthorised);
  auto why = dlt645::check_relay_reply(*reply, address);
  REQUIRE(why);
  CHECK(std::string(why->what()).find("wrong password or not authorised") != std::string::npos);
  CHECK(fleet.relay_closed(0));

  // The simulator's own password (--password 02123456) is the one wanted.
  const std::array<std::uint8_t, 4> other{0x02, 0x12, 0x34, 0x56};
  auto ok = ask(fleet, 0, relay(address, dlt645::RelayAction::trip, other), t0, other);
  REQUIRE(ok);
  CHECK(!dlt645::check_relay_reply(*ok, address));
  CHECK(!fleet.relay_closed(0));
}

TEST_CASE("Sim DL/T 645: the date and time are the meter's clock, and a broadcast sets the clocks within 5 minutes") {
  const auto t0 = sim::Fleet::Clock::now();
  auto fleet = dlt645_fleet(3, t0);
  fleet.set_clock_drift(-120);
  const auto at = t0 + 10s;

  CHECK(read(fleet, 0, "clock_date", at).raw == 26092101);
  CHECK(read(fleet, 0, "clock_time", at).raw == 141130);
  // Meter 3 is 10 minutes behind: it will not take a broadcast time.
  fleet.set_meter_clock(2, 1'790'000'010 - 600, at);
  auto broadcast = dlt645::decode_frame(dlt645::encode_frame(dlt645::broadcast_time_request(to_local(1'790'000'010))));
  REQUIRE(broadcast);
  // Nobody answers a broadcast.
  CHECK(!sim::dlt645_answer(fleet, 0, *broadcast, k_password, at));
  sim::dlt645_broadcast_time(fleet, 0, 3, *broadcast, at);
  CHECK(fleet.meter_clock(0, at) == 1'790'000'010);
  CHECK(fleet.meter_clock(1, at) == 1'790'000'010);
  CHECK(fleet.meter_clock(2, at) == 1'790'000'010 - 600);
  // The clocks run in real time, not at the simulated speed (3600x here).
  CHECK(fleet.meter_clock(0, at + 5s) == 1'790'000'015);
}
