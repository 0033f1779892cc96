#include <doctest/doctest.h>

#include "test_site_fixture.hpp"

#include <kwh/billing/account.hpp>
#include <kwh/site/gateway.hpp>
#include <kwh/site/meter.hpp>

using namespace kwh;
using namespace kwh::site;

namespace {

// The exit code an action fails with (0 when it does not), and its message.
template <typename F> Exit exit_of(F&& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  return Exit::ok;
}

Gateway tcp(const std::string& name, const std::string& address = "127.0.0.1:502") {
  Gateway g;
  g.name = name;
  g.transport = Transport::tcp;
  g.address = address;
  return g;
}

MeterSpec meter(const std::string& name, const std::string& gateway, int unit, const std::string& profile) {
  MeterSpec s;
  s.name = name;
  s.gateway = gateway;
  s.unit = unit;
  s.profile = profile;
  return s;
}

} // namespace

TEST_CASE("Site: a gateway's address and serial settings are checked for its transport") {
  SUBCASE("tcp needs host:port") {
    for (const char* bad : {"127.0.0.1", "127.0.0.1:", ":502", "127.0.0.1:0", "127.0.0.1:65536", "host:port"}) {
      CAPTURE(bad);
      auto g = tcp("G", bad);
      CHECK(exit_of([&] { validate(g); }) == Exit::usage);
    }
    auto g = tcp("G", "meters.example:5020");
    CHECK(exit_of([&] { validate(g); }) == Exit::ok);
  }
  SUBCASE("serial settings only for rtu") {
    auto g = tcp("G");
    g.baud = 9600;
    std::string msg;
    CHECK(exit_of([&] { validate(g); }, &msg) == Exit::usage);
    CHECK(msg.find("--rtu") != std::string::npos);
  }
  SUBCASE("rtu gets serial defaults and checks them") {
    Gateway g;
    g.name = "R";
    g.transport = Transport::rtu_serial;
    g.address = "/dev/ttyUSB0";
    validate(g);
    CHECK(g.baud == 9600);
    CHECK(g.parity == 'N');
    CHECK(g.stop_bits == 1);
    g.parity = 'X';
    CHECK(exit_of([&] { validate(g); }) == Exit::usage);
    g.parity = 'E';
    g.stop_bits = 3;
    CHECK(exit_of([&] { validate(g); }) == Exit::usage);
  }
  SUBCASE("timeouts and gaps have ranges") {
    auto g = tcp("G");
    g.timeout_ms = 0;
    CHECK(exit_of([&] { validate(g); }) == Exit::usage);
    g.timeout_ms = 200;
    g.gap_ms = -1;
    CHECK(exit_of([&] { validate(g); }) == Exit::usage);
  }
  SUBCASE("names travel through pipes") {
    for (const char* bad : {"", "a b", "-x", "tab\there"}) {
      CAPTURE(bad);
      auto g = tcp(bad);
      CHECK(exit_of([&] { validate(g); }) == Exit::usage);
    }
  }
}

TEST_CASE("Site: gateways are stored, found, listed and unique by name") {
  test::SiteDb s;
  auto g = add_gateway(*s.db, tcp("G1", "127.0.0.1:5020"));
  CHECK(g.id > 0);
  Gateway r;
  r.name = "G0";
  r.transport = Transport::rtu_serial;
  r.address = "/dev/ttyS1";
  r.parity = 'E';
  r.timeout_ms = 300;
  r.gap_ms = 150;
  add_gateway(*s.db, r);

  auto found = find_gateway(*s.db, "G0");
  REQUIRE(found);
  CHECK(found->transport == Transport::rtu_serial);
  CHECK(found->parity == 'E');
  CHECK(found->baud == 9600);
  CHECK(found->timeout_ms == 300);
  CHECK(found->gap_ms == 150);
  CHECK(found->spec(std::chrono::milliseconds(500)).timeout == std::chrono::milliseconds(300));
  CHECK(find_gateway(*s.db, "G1")->spec(std::chrono::milliseconds(500)).timeout == std::chrono::milliseconds(500));

  auto all = list_gateways(*s.db);
  REQUIRE(all.size() == 2);
  CHECK(all[0].name == "G0");
  CHECK(all[1].name == "G1");

  std::string msg;
  CHECK(exit_of([&] { add_gateway(*s.db, tcp("G1")); }, &msg) == Exit::data);
  CHECK(msg.find("G1") != std::string::npos);
  CHECK(exit_of([&] { get_gateway(*s.db, "nope"); }, &msg) == Exit::no_input);
  CHECK(msg.find("nope") != std::string::npos);

  g.address = "127.0.0.1:5021";
  g.gap_ms = 20;
  update_gateway(*s.db, g);
  CHECK(get_gateway(*s.db, "G1").address == "127.0.0.1:5021");
  CHECK(get_gateway(*s.db, "G1").gap_ms == 20);
}

TEST_CASE("Site: a meter records its profile by name or path, keeps the text, and takes the profile's kind") {
  test::SiteDb s;
  add_gateway(*s.db, tcp("G1"));
  SUBCASE("by path: the absolute path is recorded") {
    auto m = add_meter(*s.db, meter("M1", "G1", 1, s.profile_path), s.folders);
    CHECK(m.profile == s.profile_path);
    CHECK(m.kind == "electricity");
    CHECK(get_meter(*s.db, "M1").profile == s.profile_path);
  }
  SUBCASE("by name, found in a profile folder") {
    auto m = add_meter(*s.db, meter("M1", "G1", 1, "test-em"), s.folders);
    CHECK(m.profile == "test-em");
  }
  CHECK(s.count("SELECT count(*) FROM profiles WHERE name = 'test-em' AND body LIKE '%energy_total%'") == 1);
  // The file can go: the meter's profile is still known from the stored text.
  std::filesystem::remove(s.profile_path);
  auto p = meter_profile(*s.db, get_meter(*s.db, "M1"), s.folders);
  CHECK(p.name == "test-em");
  CHECK(p.relay.has_value());
}

TEST_CASE("Site: meter add refuses bad fields, unknown gateways and profiles, and bad profiles") {
  test::SiteDb s;
  add_gateway(*s.db, tcp("G1"));
  std::string msg;
  CHECK(exit_of([&] { add_meter(*s.db, meter("M1", "G1", 0, s.profile_path), s.folders); }) == Exit::usage);
  CHECK(exit_of([&] { add_meter(*s.db, meter("M1", "G1", 248, s.profile_path), s.folders); }) == Exit::usage);
  CHECK(exit_of([&] { add_meter(*s.db, meter("M1", "G9", 1, s.profile_path), s.folders); }, &msg) == Exit::no_input);
  CHECK(msg.find("G9") != std::string::npos);
  CHECK(exit_of([&] { add_meter(*s.db, meter("M1", "G1", 1, "no-such-profile"), s.folders); }, &msg) ==
        Exit::no_input);
  CHECK(msg.find("no-such-profile") != std::string::npos);
  auto bad = s.dir.file("bad.toml");
  test::SiteDb::write(bad, "name = \"bad\"\nkind = \"gas\"\n");
  CHECK(exit_of([&] { add_meter(*s.db, meter("M1", "G1", 1, bad), s.folders); }) == Exit::config);
  auto water = meter("M1", "G1", 1, s.profile_path);
  water.kind = "water";
  CHECK(exit_of([&] { add_meter(*s.db, water, s.folders); }, &msg) == Exit::data);
  CHECK(msg.find("electricity") != std::string::npos);
  CHECK(s.count("SELECT count(*) FROM meters") == 0);
  CHECK(s.count("SELECT count(*) FROM profiles") == 0);
}

TEST_CASE("Site: one in-service meter per gateway and unit, and meter IDs are unique") {
  test::SiteDb s;
  add_gateway(*s.db, tcp("G1"));
  add_gateway(*s.db, tcp("G2", "127.0.0.1:503"));
  add_meter(*s.db, meter("M1", "G1", 5, s.profile_path), s.folders);
  std::string msg;
  CHECK(exit_of([&] { add_meter(*s.db, meter("M2", "G1", 5, s.profile_path), s.folders); }, &msg) == Exit::data);
  CHECK(msg.find("M1") != std::string::npos);
  CHECK(exit_of([&] { add_meter(*s.db, meter("M1", "G2", 5, s.profile_path), s.folders); }) == Exit::data);
  // The same unit on another bus is another meter.
  add_meter(*s.db, meter("M2", "G2", 5, s.profile_path), s.folders);
  // Moving onto a taken address is refused; moving elsewhere works.
  MeterChange c;
  c.gateway = "G1";
  CHECK(exit_of([&] { update_meter(*s.db, "M2", c, s.folders); }) == Exit::data);
  c.unit = 6;
  auto m = update_meter(*s.db, "M2", c, s.folders);
  CHECK(m.gateway == "G1");
  CHECK(m.unit == 6);
  // Once M1 is removed, its address is free again.
  remove_meter(*s.db, "M1");
  add_meter(*s.db, meter("M3", "G1", 5, s.profile_path), s.folders);
}

TEST_CASE("Site: meter set changes only what it is given; empty text clears") {
  test::SiteDb s;
  add_gateway(*s.db, tcp("G1"));
  auto spec = meter("M1", "G1", 1, s.profile_path);
  spec.building = "B1";
  spec.room = "101";
  spec.overload_w = 5000;
  add_meter(*s.db, spec, s.folders);
  MeterChange c;
  c.relay_mode = RelayMode::protect;
  c.room = "";
  auto m = update_meter(*s.db, "M1", c, s.folders);
  CHECK(m.relay_mode == RelayMode::protect);
  CHECK(m.building == "B1");
  CHECK_FALSE(m.room.has_value());
  CHECK(m.overload_w == 5000);
  auto stored = get_meter(*s.db, "M1");
  CHECK(stored.relay_mode == RelayMode::protect);
  CHECK_FALSE(stored.room.has_value());
  MeterChange k;
  k.kind = "water";
  CHECK(exit_of([&] { update_meter(*s.db, "M1", k, s.folders); }) == Exit::data);
  CHECK(exit_of([&] { update_meter(*s.db, "M9", c, s.folders); }) == Exit::no_input);
}

TEST_CASE("Site: meter list filters by status, gateway, building and account") {
  test::SiteDb s;
  add_gateway(*s.db, tcp("G1"));
  add_gateway(*s.db, tcp("G2", "127.0.0.1:503"));
  auto a = meter("A", "G1", 1, s.profile_path);
  a.building = "North";
  add_meter(*s.db, a, s.folders);
  add_meter(*s.db, meter("B", "G2", 1, s.profile_path), s.folders);
  add_meter(*s.db, meter("C", "G2", 2, s.profile_path), s.folders);
  s.db->exec("UPDATE meters SET status = 'offline' WHERE name = 'C'");
  s.db->exec("INSERT INTO tariffs(name, created) VALUES ('T', 0)");
  s.db->exec("INSERT INTO accounts(name, holder, tariff_id, opened) VALUES ('ACC', 'Shop', 1, 0)");
  s.db->exec("INSERT INTO assignments(account_id, meter_id, valid_from) SELECT 1, id, 0 FROM meters WHERE name = 'B'");

  auto names = [&](const MeterFilter& f) {
    std::string out;
    for (const auto& m : list_meters(*s.db, f)) out += m.name;
    return out;
  };
  CHECK(names({}) == "ABC");
  CHECK(names({.status = "offline"}) == "C");
  CHECK(names({.gateway = "G2"}) == "BC");
  CHECK(names({.building = "North"}) == "A");
  CHECK(names({.account = "ACC"}) == "B");
  CHECK(exit_of([&] { list_meters(*s.db, {.gateway = "G9"}); }) == Exit::no_input);
  CHECK(open_account(*s.db, get_meter(*s.db, "B").id) == "ACC");
  CHECK_FALSE(open_account(*s.db, get_meter(*s.db, "A").id).has_value());
}

TEST_CASE("Site: removing a meter deletes it without history, keeps it with history, refuses while an account has it") {
  test::SiteDb s;
  add_gateway(*s.db, tcp("G1"));
  add_meter(*s.db, meter("NEW", "G1", 1, s.profile_path), s.folders);
  add_meter(*s.db, meter("OLD", "G1", 2, s.profile_path), s.folders);
  add_meter(*s.db, meter("HELD", "G1", 3, s.profile_path), s.folders);
  auto old_id = get_meter(*s.db, "OLD").id;
  s.db->prepare("INSERT INTO readings(meter_id, t, value) VALUES (?1, 100, 5000)").bind(1, old_id).run();
  s.db->prepare("INSERT INTO commands(meter_id, action, created, not_before) VALUES (?1, 'relay_off', 1, 1)")
      .bind(1, old_id)
      .run();
  s.db->exec("INSERT INTO tariffs(name, created) VALUES ('T', 0)");
  s.db->exec("INSERT INTO accounts(name, holder, tariff_id, opened) VALUES ('ACC', 'Shop', 1, 0)");
  s.db->exec("INSERT INTO assignments(account_id, meter_id, valid_from) SELECT 1, id, 0 FROM meters WHERE name = 'HELD'");

  CHECK(remove_meter(*s.db, "NEW") == Removal::deleted);
  CHECK_FALSE(find_meter(*s.db, "NEW").has_value());

  CHECK(remove_meter(*s.db, "OLD") == Removal::marked_removed);
  auto old = find_meter(*s.db, "OLD");
  REQUIRE(old);
  CHECK(old->removed.has_value());
  CHECK(s.count("SELECT count(*) FROM readings") == 1);
  // Its pending command is cancelled: a removed meter is switched by nobody.
  CHECK(s.count("SELECT count(*) FROM commands WHERE state = 'cancelled'") == 1);
  CHECK(list_meters(*s.db).size() == 1);
  CHECK(list_meters(*s.db, {.include_removed = true}).size() == 2);
  std::string msg;
  CHECK(exit_of([&] { add_meter(*s.db, meter("OLD", "G1", 2, s.profile_path), s.folders); }, &msg) == Exit::data);
  CHECK(msg.find("removed") != std::string::npos);
  CHECK(exit_of([&] { remove_meter(*s.db, "OLD"); }) == Exit::data);
  CHECK(exit_of([&] { get_meter_in_service(*s.db, "OLD"); }) == Exit::data);

  CHECK(exit_of([&] { remove_meter(*s.db, "HELD"); }, &msg) == Exit::data);
  CHECK(msg.find("ACC") != std::string::npos);
  CHECK_FALSE(get_meter(*s.db, "HELD").removed.has_value());

  CHECK(exit_of([&] { remove_meter(*s.db, "NOPE"); }) == Exit::no_input);
}

TEST_CASE("Site: a gateway with meters is not removed, and names them") {
  test::SiteDb s;
  add_gateway(*s.db, tcp("G1"));
  add_gateway(*s.db, tcp("EMPTY", "127.0.0.1:503"));
  add_meter(*s.db, meter("M1", "G1", 1, s.profile_path), s.folders);
  add_meter(*s.db, meter("M2", "G1", 2, s.profile_path), s.folders);
  std::string msg;
  CHECK(exit_of([&] { remove_gateway(*s.db, "G1"); }, &msg) == Exit::data);
  CHECK(msg.find("M1, M2") != std::string::npos);
  CHECK(find_gateway(*s.db, "G1").has_value());
  remove_gateway(*s.db, "EMPTY");
  CHECK_FALSE(find_gateway(*s.db, "EMPTY").has_value());
  CHECK(exit_of([&] { remove_gateway(*s.db, "EMPTY"); }) == Exit::no_input);
  // Meters removed without history leave nothing behind: the gateway goes.
  remove_meter(*s.db, "M1");
  remove_meter(*s.db, "M2");
  remove_gateway(*s.db, "G1");
  CHECK(s.count("SELECT count(*) FROM gateways") == 0);
}

TEST_CASE("Site: relay auto|protect set the mode of many meters at once, or of none") {
  test::SiteDb s;
  add_gateway(*s.db, tcp("G1"));
  auto a = add_meter(*s.db, meter("A", "G1", 1, s.profile_path), s.folders);
  auto b = add_meter(*s.db, meter("B", "G1", 2, s.profile_path), s.folders);
  set_relay_mode(*s.db, {a.id, b.id}, RelayMode::protect);
  CHECK(get_meter(*s.db, "A").relay_mode == RelayMode::protect);
  CHECK(get_meter(*s.db, "B").relay_mode == RelayMode::protect);
  CHECK(exit_of([&] { set_relay_mode(*s.db, {a.id, 999}, RelayMode::automatic); }) == Exit::data);
  CHECK(get_meter(*s.db, "A").relay_mode == RelayMode::protect);
}

TEST_CASE("Site: unit ranges overlap when they share an address") {
  CHECK(units_overlap(4, 3, 4, 1));
  CHECK(units_overlap(4, 3, 6, 1));
  CHECK_FALSE(units_overlap(4, 3, 7, 1));
  CHECK_FALSE(units_overlap(4, 3, 3, 1));
  CHECK(units_overlap(2, 3, 4, 3));
  CHECK_FALSE(units_overlap(1, 3, 4, 3));
  CHECK(units_overlap(5, 1, 5, 1));
  CHECK(units_text(5, 1) == "unit 5");
  CHECK(units_text(4, 3) == "units 4..6");
}

TEST_CASE("Site: a three-phase circuit of a multi-user meter takes three units; circuits name their device") {
  test::SiteDb s;
  add_gateway(*s.db, tcp("G1"));
  add_gateway(*s.db, tcp("G2", "127.0.0.1:503"));
  auto three = s.dir.file("three.toml");
  std::string text = test::k_site_profile;
  text.replace(text.find("test-em"), 7, "test-3p");
  test::SiteDb::write(three, "units = 3\n" + text);
  auto spec = meter("T4", "G1", 4, three);
  spec.device = "D1";
  auto t4 = add_meter(*s.db, spec, s.folders);
  CHECK(t4.device == "D1");
  CHECK(get_meter(*s.db, "T4").device == "D1");
  std::string msg;
  for (int unit : {4, 5, 6}) {
    CAPTURE(unit);
    CHECK(exit_of([&] { add_meter(*s.db, meter("X", "G1", unit, s.profile_path), s.folders); }, &msg) == Exit::data);
    CHECK(msg.find("is already meter T4 (units 4..6)") != std::string::npos);
  }
  // A three-phase circuit whose range reaches another's start.
  CHECK(exit_of([&] { add_meter(*s.db, meter("X", "G1", 2, three), s.folders); }, &msg) == Exit::data);
  CHECK(msg == "units 2..4 on gateway G1 overlap meter T4 (units 4..6)");
  CHECK(exit_of([&] { add_meter(*s.db, meter("X", "G1", 246, three), s.folders); }) == Exit::data);
  // Next to it, and on another bus, is free.
  add_meter(*s.db, meter("S3", "G1", 3, s.profile_path), s.folders);
  add_meter(*s.db, meter("S7", "G1", 7, s.profile_path), s.folders);
  add_meter(*s.db, meter("S5", "G2", 5, s.profile_path), s.folders);
  // meter set: moving onto the range, or a profile that would grow into a neighbour, is refused.
  MeterChange move;
  move.gateway = "G1";
  CHECK(exit_of([&] { update_meter(*s.db, "S5", move, s.folders); }) == Exit::data);
  MeterChange grow;
  grow.profile = three;
  CHECK(exit_of([&] { update_meter(*s.db, "S7", grow, s.folders); }) == Exit::ok); // 7..9 is free
  CHECK(exit_of([&] { update_meter(*s.db, "S3", grow, s.folders); }) == Exit::data);
  // --device and --no-device.
  MeterChange dev;
  dev.device = "D2";
  CHECK(update_meter(*s.db, "S3", dev, s.folders).device == "D2");
  MeterChange none;
  none.no_device = true;
  CHECK_FALSE(update_meter(*s.db, "S3", none, s.folders).device.has_value());
  MeterChange blank;
  blank.device = "two words";
  CHECK(exit_of([&] { update_meter(*s.db, "S3", blank, s.folders); }) == Exit::usage);
  // Once T4 is removed, its units are free again.
  remove_meter(*s.db, "T4");
  add_meter(*s.db, meter("S6", "G1", 5, s.profile_path), s.folders);
}

TEST_CASE("Accounts: a language is a tag like en or zh-Hans; anything else is refused as data") {
  for (const char* good : {"en", "zh", "zh-Hans", "pt-BR", "yue", "sr-Latn-RS", "de-CH-1996"})
    CHECK_NOTHROW(kwh::billing::check_language(good));
  for (const char* bad : {"", "e", "english", "zh_Hans", "zh-", "-en", "en--US", "en-abcdefghi", "e1", "zh-Hans!"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(kwh::billing::check_language(bad), kwh::Error);
  }
}
