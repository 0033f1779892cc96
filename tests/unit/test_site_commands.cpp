#include <doctest/doctest.h>

#include "test_site_fixture.hpp"

#include <kwh/site/command.hpp>
#include <kwh/site/live.hpp>
#include <kwh/site/meter.hpp>

using namespace kwh;
using namespace kwh::site;

namespace {

Meter one_meter(test::SiteDb& s) {
  Gateway g;
  g.name = "G1";
  g.address = "127.0.0.1:502";
  add_gateway(*s.db, g);
  MeterSpec spec;
  spec.name = "M1";
  spec.gateway = "G1";
  spec.unit = 3;
  spec.profile = s.profile_path;
  return add_meter(*s.db, spec, s.folders);
}

modbus::Value value(const std::string& name, double real, std::optional<std::int64_t> integer = std::nullopt) {
  modbus::Value v;
  v.name = name;
  v.real = real;
  v.integer = integer;
  return v;
}

} // namespace

TEST_CASE("Site: a relay command supersedes the meter's pending relay commands") {
  test::SiteDb s;
  auto m = one_meter(s);
  auto first = queue_command(*s.db, {.meter_id = m.id, .action = "relay_off", .operator_name = "ann"});
  auto second = queue_command(*s.db, {.meter_id = m.id, .action = "relay_on", .operator_name = "bob"});
  auto cmds = commands(*s.db, {first, second});
  REQUIRE(cmds.size() == 2);
  CHECK(cmds[0].state == "cancelled");
  CHECK(cmds[1].state == "pending");
  CHECK(cmds[1].action == "relay_on");
  CHECK(cmds[1].reason == "operator");
  CHECK(cmds[1].operator_name == "bob");
  CHECK(cmds[1].meter == "M1");
  CHECK(cmds[1].not_before <= now());
  CHECK(cmds[1].open());
  // Other kinds of command are left alone.
  s.db->prepare("UPDATE commands SET state = 'running' WHERE id = ?1").bind(1, second).run();
  auto third = queue_command(*s.db, {.meter_id = m.id, .action = "relay_off"});
  CHECK(find_command(*s.db, second)->state == "running");
  CHECK(find_command(*s.db, third)->state == "pending");
  CHECK_THROWS_AS(queue_command(*s.db, {.meter_id = m.id, .action = "explode"}), Error);
}

TEST_CASE("Site: a direct command is recorded done or failed with its read-back") {
  test::SiteDb s;
  auto m = one_meter(s);
  auto ok = record_direct_command(*s.db, {.meter_id = m.id, .action = "relay_off"}, true, std::nullopt,
                                  std::string("0x0001 0x0001"));
  auto bad = record_direct_command(*s.db, {.meter_id = m.id, .action = "relay_on"}, false, std::string("timeout"),
                                   std::nullopt);
  auto c1 = find_command(*s.db, ok);
  auto c2 = find_command(*s.db, bad);
  REQUIRE(c1);
  REQUIRE(c2);
  CHECK(c1->state == "done");
  CHECK(c1->readback == "0x0001 0x0001");
  CHECK(c1->attempts == 1);
  CHECK(c1->finished.has_value());
  CHECK(c2->state == "failed");
  CHECK(c2->last_error == "timeout");
}

TEST_CASE("Site: stored values come back with energy exact and reals as reals") {
  test::SiteDb s;
  auto m = one_meter(s);
  CHECK_FALSE(stored_values(*s.db, m.id).has_value());
  LiveReading r;
  r.time = 1'800'000'000;
  r.values = {value("energy_total", 123456789012.0, 123456789012), value("voltage_a", 229.8),
              value("power_total", 1500)};
  store_values(*s.db, m, r);
  auto back = stored_values(*s.db, m.id);
  REQUIRE(back);
  CHECK(back->time == 1'800'000'000);
  REQUIRE(back->values.size() == 3);
  REQUIRE(back->find("energy_total"));
  CHECK(back->find("energy_total")->integer == 123456789012);
  CHECK(back->find("voltage_a")->real == doctest::Approx(229.8));
  CHECK(values_json(*back).dump(-1) == R"({"energy_total": 123456789012, "voltage_a": 229.8, "power_total": 1500})");
  // A newer reading replaces the old one.
  r.time += 60;
  r.values = {value("energy_total", 123456789112.0, 123456789112)};
  store_values(*s.db, m, r);
  back = stored_values(*s.db, m.id);
  REQUIRE(back);
  CHECK(back->values.size() == 1);
  CHECK(back->find("energy_total")->integer == 123456789112);
}

TEST_CASE("Site: recording a relay switch sets the state, the reason and a relay_changed event") {
  test::SiteDb s;
  auto m = one_meter(s);
  s.db->exec("INSERT INTO tariffs(name, created) VALUES ('T', 0)");
  s.db->exec("INSERT INTO accounts(name, holder, tariff_id, opened) VALUES ('ACC', 'Shop', 1, 0)");
  s.db->prepare("INSERT INTO assignments(account_id, meter_id, valid_from) VALUES (1, ?1, 0)").bind(1, m.id).run();
  record_relay(*s.db, m, false, "operator");
  auto off = get_meter(*s.db, "M1");
  CHECK(off.relay_state == "off");
  CHECK(off.relay_reason == "operator");
  record_relay(*s.db, off, true, "operator");
  auto on = get_meter(*s.db, "M1");
  CHECK(on.relay_state == "on");
  CHECK_FALSE(on.relay_reason.has_value());
  CHECK(s.count("SELECT count(*) FROM events WHERE kind = 'relay_changed' AND account_id = 1 AND gateway_id IS NOT NULL") == 2);
  auto st = s.db->prepare("SELECT detail FROM events ORDER BY id");
  REQUIRE(st.step());
  CHECK(st.get_text(0) == "unknown -> off (operator)");
  REQUIRE(st.step());
  CHECK(st.get_text(0) == "off -> on (operator)");
}

TEST_CASE("Site: a profile without [relay] cannot switch a relay") {
  test::SiteDb s;
  auto m = one_meter(s);
  auto p = meter_profile(*s.db, m, s.folders);
  CHECK_NOTHROW(relay_of(m, p));
  p.relay.reset();
  try {
    relay_of(m, p);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::data);
    CHECK(std::string(e.what()).find("M1") != std::string::npos);
  }
}
