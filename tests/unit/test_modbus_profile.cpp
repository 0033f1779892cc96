#include <doctest/doctest.h>

#include "temp_dir.hpp"

#include <kwh/modbus/profile.hpp>
#include <kwh/util/error.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

using namespace kwh;
using namespace kwh::modbus;

namespace {

const char* k_good = R"(name = "test-meter"
kind = "electricity"
word_order = "little"

[values.energy_total]
table = "holding"
address = 0x0010
type = "u32"
scale = 10

[values.voltage_a]
table = "input"
address = 3
type = "f32"

[relay]
table = "holding"
address = 0x0057
on = [1, 0]
off = [1, 1]

[settings.overload_w]
table = "holding"
address = 0x0100
type = "u16"
write = "single"
)";

std::string write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
  return path.string();
}

// The error a bad profile gives (its code must be config, 78).
std::string error_of(const std::string& text) {
  try {
    parse_profile(text, "bad.toml");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::config);
    CHECK(static_cast<int>(e.code()) == 78);
    return e.what();
  }
  FAIL("the profile was accepted: ", text);
  return "";
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

} // namespace

TEST_CASE("Profile: a good profile is read key by key") {
  auto p = parse_profile(k_good, "good.toml");
  CHECK(p.name == "test-meter");
  CHECK(p.kind == "electricity");
  CHECK(p.source == "good.toml");
  CHECK(p.text == k_good);
  CHECK(p.word_order == WordOrder::little);
  CHECK(p.max_gap == -1);
  CHECK(parse_profile(replace(k_good, "word_order = \"little\"", "max_gap = 0"), "gap.toml").max_gap == 0);
  REQUIRE(p.values.size() == 2);
  CHECK(p.values[0].name == "energy_total"); // the order of the file
  CHECK(p.values[0].table == Table::holding);
  CHECK(p.values[0].address == 0x10);
  CHECK(p.values[0].type == ValueType::u32);
  CHECK(p.values[0].scale == 10);
  CHECK(p.values[1].name == "voltage_a");
  CHECK(p.values[1].table == Table::input);
  CHECK(p.values[1].scale == 1); // the default
  REQUIRE(p.relay);
  CHECK(p.relay->table == Table::holding);
  CHECK(p.relay->address == 0x57);
  CHECK(p.relay->on == std::vector<std::uint16_t>{1, 0});
  CHECK(p.relay->off == std::vector<std::uint16_t>{1, 1});
  CHECK_FALSE(p.relay->single_write);
  REQUIRE(p.settings.size() == 1);
  CHECK(p.find_setting("overload_w")->single_write);
  CHECK(p.find("voltage_a") == &p.values[1]);
  CHECK(p.find("nothing") == nullptr);
  CHECK(p.total() == &p.values[0]);
}

TEST_CASE("Profile: values are listed in the order of the file, not sorted") {
  auto p = parse_profile(R"(name = "w"
kind = "water"
[values.zz_first]
table = "coil"
address = 5
[values.volume_total]
table = "holding"
address = 0
type = "u32"
[values.aa_last]
table = "discrete"
address = 1
)",
                         "order.toml");
  REQUIRE(p.values.size() == 3);
  CHECK(p.values[0].name == "zz_first");
  CHECK(p.values[0].type == ValueType::u16); // a bit
  CHECK(p.values[1].name == "volume_total");
  CHECK(p.values[2].name == "aa_last");
  CHECK(p.word_order == WordOrder::big); // the default
}

TEST_CASE("Profile: every built-in loads, is named after its file and says where its map came from") {
  auto names = builtin_profile_names();
  for (const char* required : {"acrel-ddsy1352", "acrel-dtsy1352", "acrel-adf400l-1p", "acrel-adf400l-3p",
                               "eastron-sdm630", "eastron-sdm120", "generic-water"})
    CHECK(std::find(names.begin(), names.end(), required) != names.end());
  CHECK(std::is_sorted(names.begin(), names.end()));
  for (const auto& n : names) {
    CAPTURE(n);
    auto p = builtin_profile(n);
    REQUIRE(p);
    CHECK(p->name == n);
    CHECK(p->source == "builtin:" + n);
    CHECK(p->total() != nullptr);
    CHECK(p->text.starts_with("#")); // the comment naming the source document
    CHECK(*builtin_profile_text(n) == p->text);
  }
  CHECK_FALSE(builtin_profile("no-such-meter"));
  CHECK_FALSE(builtin_profile_text("no-such-meter"));
}

TEST_CASE("Profile: the Acrel maps hold energy in 0.01 kWh and switch the relay at 0057H") {
  for (const char* name : {"acrel-ddsy1352", "acrel-dtsy1352", "acrel-adf400l-1p", "acrel-adf400l-3p"}) {
    CAPTURE(name);
    auto p = *builtin_profile(name);
    CHECK(p.kind == "electricity");
    const char* energy[] = {"energy_total", "energy_sharp", "energy_peak", "energy_flat", "energy_valley"};
    for (int i = 0; i < 5; ++i) {
      const auto* v = p.find(energy[i]);
      REQUIRE(v);
      CHECK(v->table == Table::holding);
      CHECK(v->address == 2 * i);
      CHECK(v->type == ValueType::u32);
      CHECK(v->scale == 10);
    }
    CHECK(p.find("voltage_a")->address == 0x000B);
    CHECK(p.find("voltage_a")->scale == doctest::Approx(0.1));
    REQUIRE(p.relay);
    CHECK(p.relay->address == 0x0057);
    CHECK(p.relay->off == std::vector<std::uint16_t>{1, 1});
    CHECK(p.relay->on == std::vector<std::uint16_t>{1, 0});
    // The state the meter reports: the second word of the pair, read with every poll.
    REQUIRE(p.relay->status);
    CHECK(p.relay->status->table == Table::holding);
    CHECK(p.relay->status->address == 0x0058);
    CHECK(p.values.back().name == "relay_status");
    CHECK(p.values.back().address == 0x0058);
    CHECK(p.relay_closed(0) == true);
    CHECK(p.relay_closed(1) == false);
    CHECK(p.relay_closed(2) == std::nullopt);
  }
  auto single = *builtin_profile("acrel-ddsy1352");
  CHECK(single.find("current_a")->address == 0x000C);
  CHECK(single.find("power_total")->address == 0x000D);
  CHECK(single.find("power_factor")->address == 0x0010);
  auto three = *builtin_profile("acrel-dtsy1352");
  for (const char* phase : {"voltage_a", "voltage_b", "voltage_c", "current_a", "current_b", "current_c"})
    CHECK(three.find(phase) != nullptr);
}

TEST_CASE("Profile: [relay.status] reads a word, a bit of a status word, or a coil") {
  auto with = [](const std::string& status) {
    return parse_profile(replace(k_good, "off = [1, 1]", "off = [1, 1]\n[relay.status]\n" + status), "t.toml");
  };
  // Bit 4 of a status word, set while the relay is open (the DL/T 645 way round).
  auto p = with("table = \"input\"\naddress = 0x20\nbit = 4\non = 0");
  REQUIRE(p.relay->status);
  CHECK(p.relay->status->bit == 4);
  CHECK(p.relay->status->off == 1);
  CHECK(p.relay_closed(0x0000) == true);
  CHECK(p.relay_closed(0x0010) == false);
  CHECK(p.relay_closed(0xFFEF) == true); // the other bits do not matter
  CHECK(p.relay->status->raw(false) == 0x0010);
  CHECK(p.find("relay_status")->table == Table::input);
  // A coil that reads 1 while power flows: on = 1, off = 0 by default.
  auto c = with("table = \"discrete\"\naddress = 7");
  CHECK(c.relay_closed(1) == true);
  CHECK(c.relay_closed(0) == false);
  // The name is the profile's own.
  auto bad = replace(k_good, "[values.voltage_a]", "[values.relay_status]");
  bad = replace(bad, "off = [1, 1]", "off = [1, 1]\n[relay.status]\ntable = \"coil\"\naddress = 1");
  CHECK(error_of(bad).find("values.relay_status: reserved") != std::string::npos);
  // Without [relay.status] nothing is added.
  CHECK(parse_profile(k_good, "t.toml").find("relay_status") == nullptr);
}

TEST_CASE("Profile: the Eastron maps are float32 input registers") {
  auto sdm630 = *builtin_profile("eastron-sdm630");
  for (const auto& v : sdm630.values) {
    CHECK(v.table == Table::input);
    CHECK(v.type == ValueType::f32);
  }
  CHECK(sdm630.find("energy_total")->address == 0x0048);
  CHECK(sdm630.find("energy_total")->scale == 1000);
  CHECK(sdm630.find("power_total")->address == 0x0034);
  CHECK(sdm630.find("frequency")->address == 0x0046);
  CHECK(sdm630.find("voltage_c")->address == 0x0004);
  CHECK_FALSE(sdm630.relay);
  auto sdm120 = *builtin_profile("eastron-sdm120");
  CHECK(sdm120.find("current_a")->address == 0x0006);
  CHECK(sdm120.find("power_factor")->address == 0x001E);
  CHECK(sdm120.find("energy_sum")->address == 0x0156);
  auto water = *builtin_profile("generic-water");
  CHECK(water.kind == "water");
  CHECK(water.total()->name == "volume_total");
  REQUIRE(water.relay);
  CHECK(water.relay->table == Table::coil);
  CHECK(water.relay->on == std::vector<std::uint16_t>{1});
  CHECK(water.relay->off == std::vector<std::uint16_t>{0});
}

TEST_CASE("Profile: each bad key is exit 78 naming the source, the line and the key") {
  // One row per way a profile can be wrong: the change to the good profile, and what the
  // message must contain.
  struct Case {
    const char* from;
    const char* to;
    const char* expected;
  };
  const Case cases[] = {
      {"type = \"u32\"", "type = \"u33\"", "profile bad.toml:8: values.energy_total.type: unknown type 'u33'"},
      {"type = \"u32\"", "type = 32", "values.energy_total.type: expected a string"},
      {"table = \"input\"", "table = \"inputs\"", "values.voltage_a.table: unknown table 'inputs'"},
      {"address = 3", "address = 70000", "values.voltage_a.address: 70000 is out of range"},
      {"address = 3", "address = -1", "values.voltage_a.address"},
      {"address = 3", "address = \"3\"", "values.voltage_a.address: expected an integer"},
      {"address = 3", "address = 65535", "values.voltage_a.address: the value runs past register 65535"},
      {"scale = 10", "scale = 0", "values.energy_total.scale: must be a finite number other than 0"},
      {"scale = 10", "scale = \"10\"", "values.energy_total.scale: expected a number"},
      {"scale = 10", "scale = nan", "values.energy_total.scale"},
      {"scale = 10", "scale = 10\nunit = \"Wh\"", "profile bad.toml:10: values.energy_total.unit: unknown key"},
      {"kind = \"electricity\"", "kind = \"gas\"", "kind: must be electricity or water, not 'gas'"},
      {"kind = \"electricity\"", "", "bad.toml: kind: missing"},
      {"name = \"test-meter\"", "name = \"Test Meter\"", "profile bad.toml:1: name"},
      {"name = \"test-meter\"", "", "name: missing"},
      {"word_order = \"little\"", "word_order = \"middle\"", "word_order: must be big or little"},
      {"word_order = \"little\"", "colour = \"red\"", "profile bad.toml:3: colour: unknown key"},
      {"word_order = \"little\"", "max_gap = -1", "profile bad.toml:3: max_gap: -1 is out of range 0..2000"},
      {"word_order = \"little\"", "max_gap = \"none\"", "max_gap: expected an integer"},
      {"[values.energy_total]", "[values.energy_totals]", "values.energy_total: missing: every electricity meter needs it"},
      {"[values.voltage_a]", "[values.Voltage-A]", "values.Voltage-A: names are lower-case"},
      {"table = \"input\"\naddress = 3\ntype = \"f32\"", "address = 3\ntype = \"f32\"", "values.voltage_a.table: missing"},
      {"type = \"f32\"", "", "values.voltage_a.type: missing"},
      {"table = \"input\"", "table = \"coil\"", "values.voltage_a.type: a coil holds one bit"},
      {"address = 0x0057", "address = 0x0057\nwrite = \"single\"", "relay.write: \"single\" writes one register"},
      {"table = \"holding\"\naddress = 0x0057", "table = \"input\"\naddress = 0x0057", "relay.table: must be coil or holding"},
      {"on = [1, 0]", "on = [1, 70000]", "relay.on: 70000 is out of range"},
      {"on = [1, 0]", "on = []", "relay.on: expected 1 to 123 register words"},
      {"on = [1, 0]", "on = \"close\"", "relay.on: expected a register word"},
      {"on = [1, 0]", "", "relay.on: missing"},
      {"on = [1, 0]", "on = [1, 1]", "relay.off: must differ from relay.on"},
      {"off = [1, 1]", "off = [1, 1]\npulse = 3", "relay.pulse: unknown key"},
      {"write = \"single\"", "write = \"twice\"", "settings.overload_w.write: must be \"single\" or \"multiple\""},
      {"[settings.overload_w]\ntable = \"holding\"", "[settings.overload_w]\ntable = \"input\"",
       "settings.overload_w.table: a setting must be writable"},
      {"type = \"u16\"\nwrite", "type = \"u32\"\nwrite", "settings.overload_w.write: \"single\" writes one register"},
      {"[relay]", "[relay]\n[relay.extra]", "profile bad.toml"}, // a TOML error: the table is defined twice
      {"[values.voltage_a]", "values = 3\n[values.voltage_a]", "profile bad.toml"},
      {"off = [1, 1]", "off = [1, 1]\n[relay.status]\naddress = 0x58\non = 0\noff = 1", "relay.status.table: missing"},
      {"off = [1, 1]", "off = [1, 1]\n[relay.status]\ntable = \"holding\"\naddress = 0x58\non = 0",
       "relay.status.off: missing"},
      {"off = [1, 1]", "off = [1, 1]\n[relay.status]\ntable = \"holding\"\naddress = 0x58\non = 3\noff = 3",
       "relay.status.off: must differ from relay.status.on"},
      {"off = [1, 1]", "off = [1, 1]\n[relay.status]\ntable = \"coil\"\naddress = 1\nbit = 2", "relay.status.bit: only for"},
      {"off = [1, 1]", "off = [1, 1]\n[relay.status]\ntable = \"holding\"\naddress = 9\nbit = 16",
       "relay.status.bit: 16 is out of range 0..15"},
      {"off = [1, 1]", "off = [1, 1]\n[relay.status]\ntable = \"holding\"\naddress = 9\nbit = 4\non = 2",
       "relay.status.on: 2 is out of range 0..1"},
      {"off = [1, 1]", "off = [1, 1]\n[relay.status]\ntable = \"input\"\naddress = 9\nbits = 4",
       "relay.status.bits: unknown key"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.to);
    auto message = error_of(replace(k_good, c.from, c.to));
    CHECK_MESSAGE(message.find(c.expected) != std::string::npos, message);
    CHECK(message.find('\n') == std::string::npos);
  }
  CHECK(error_of("name = \"w\"\nkind = \"water\"\n").find("values.volume_total: missing") != std::string::npos);
  CHECK(error_of("this is not toml").starts_with("profile bad.toml:1: "));
  CHECK(error_of("").find("name: missing") != std::string::npos);
}

TEST_CASE("Profile: lookup goes built-ins, then the folders in order, and takes paths as files") {
  test::TempDir d;
  auto first = d.path() / "first";
  auto second = d.path() / "second";
  auto text_named = [](const std::string& name) {
    return replace(k_good, "name = \"test-meter\"", "name = \"" + name + "\"");
  };
  // A folder's file cannot shadow a built-in.
  write_file(first / "acrel-ddsy1352.toml", text_named("impostor"));
  write_file(first / "mine.toml", text_named("mine-first"));
  write_file(second / "mine.toml", text_named("mine-second"));
  write_file(second / "other.toml", text_named("other"));
  std::vector<std::string> folders{first.string(), second.string()};

  CHECK(find_profile("acrel-ddsy1352", folders).source == "builtin:acrel-ddsy1352");
  CHECK(find_profile("mine", folders).name == "mine-first");
  CHECK(find_profile("mine", folders).source == (first / "mine.toml").string());
  CHECK(find_profile("other", folders).name == "other");
  CHECK(find_profile((second / "mine.toml").string(), folders).name == "mine-second");
  CHECK(find_profile((first / "acrel-ddsy1352.toml").string(), {}).name == "impostor");

  auto error_code = [&](const std::string& what) {
    try {
      find_profile(what, folders);
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find(what) != std::string::npos);
      return e.code();
    }
    return Exit::ok;
  };
  CHECK(error_code("nowhere") == Exit::no_input);
  CHECK(error_code((d.path() / "missing.toml").string()) == Exit::no_input);
  CHECK(error_code("missing.toml") == Exit::no_input);

  write_file(first / "broken.toml", "name = \"broken\"\nkind = \"electricity\"\n");
  try {
    find_profile("broken", folders);
    FAIL("a broken profile was accepted");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::config);
    CHECK(std::string(e.what()) == "profile " + (first / "broken.toml").string() +
                                       ": values.energy_total: missing: every electricity meter needs it");
  }
}

TEST_CASE("Profile: well-known names have canonical units; energy, volume and money are integers") {
  CHECK(*well_known_unit("energy_valley") == "Wh");
  CHECK(*well_known_unit("volume_total") == "L");
  CHECK(*well_known_unit("power_b") == "W");
  CHECK(*well_known_unit("frequency") == "Hz");
  CHECK(well_known_unit("power_factor")->empty());
  CHECK_FALSE(well_known_unit("temperature"));
  CHECK(is_integer_quantity("energy_total"));
  CHECK(is_integer_quantity("volume_total"));
  CHECK(is_integer_quantity("meter_balance"));
  CHECK_FALSE(is_integer_quantity("voltage_a"));
}

TEST_CASE("Profile: a DL/T 645 profile names data identifiers, by well-known name or di") {
  auto p = *builtin_profile("acrel-dtsy1352-dlt645");
  CHECK(p.protocol == "dlt645");
  REQUIRE(p.find("energy_total"));
  CHECK(p.find("energy_total")->di == 0x00010000);
  CHECK(p.find("energy_valley")->di == 0x00010400);
  CHECK(p.find("voltage_b")->di == 0x02010200);
  // The relay: state from bit 4 of status word 3, 1 while open.
  REQUIRE(p.relay);
  CHECK_FALSE(p.relay->close_allowed);
  REQUIRE(p.find("relay_status"));
  CHECK(p.find("relay_status")->di == 0x04000503);
  CHECK(p.relay_closed(0x0000) == true);
  CHECK(p.relay_closed(0x0010) == false);

  const std::string base = "name = \"d\"\nkind = \"electricity\"\nprotocol = \"dlt645\"\n[values.energy_total]\n";
  auto q = parse_profile(base + "[values.import]\ndi = 0x00010000\n[relay]\nclose = \"allowed\"\n", "d.toml");
  CHECK(q.find("import")->di == 0x00010000);
  CHECK(q.relay->close_allowed);
  CHECK(error_of(base + "[values.foo]\n").find("values.foo.di: missing") != std::string::npos);
  CHECK(error_of(base + "[values.foo]\ndi = 0x12345678\n").find("0x12345678 is not an identifier kwh decodes") !=
        std::string::npos);
  CHECK(error_of(base + "[values.voltage_a]\ntable = \"holding\"\n").find("values.voltage_a.table: unknown key") !=
        std::string::npos);
  CHECK(error_of(base + "[relay]\nclose = \"later\"\n").find("relay.close: must be direct or allowed") != std::string::npos);
  CHECK(error_of(base + "word_order = \"big\"\n").find("not for DL/T 645") == std::string::npos); // a key of [values.energy_total]
  CHECK(error_of("word_order = \"big\"\n" + base).find("word_order: not for DL/T 645 profiles") != std::string::npos);
  CHECK(error_of(base.substr(0, base.find("protocol")) + "protocol = \"iec\"\n").find("protocol: must be modbus or dlt645") !=
        std::string::npos);
}

TEST_CASE("Profile: units says how many unit addresses a meter occupies, 1 to 3, Modbus only") {
  CHECK(parse_profile(k_good, "t.toml").units == 1); // the default
  CHECK(parse_profile("units = 3\n" + std::string(k_good), "t.toml").units == 3);
  CHECK(error_of("units = 0\n" + std::string(k_good)).find("units: 0 is out of range 1..3") != std::string::npos);
  CHECK(error_of("units = 4\n" + std::string(k_good)).find("units") != std::string::npos);
  CHECK(error_of("units = \"3\"\n" + std::string(k_good)).find("units: expected an integer") != std::string::npos);
  CHECK(error_of("units = 3\nprotocol = \"dlt645\"\nname = \"x\"\nkind = \"electricity\"\n[values.energy_total]\n")
            .find("units: not for DL/T 645") != std::string::npos);
}

TEST_CASE("Profile: the ADF400L's circuits use Acrel's prepaid map; a three-phase one takes three units") {
  auto one = *builtin_profile("acrel-adf400l-1p");
  auto three = *builtin_profile("acrel-adf400l-3p");
  CHECK(one.units == 1);
  CHECK(three.units == 3);
  // The layout is assumed from the DDSY1352/DTSY1352 table, and says so.
  CHECK(one.text.find("UNVERIFIED") != std::string::npos);
  CHECK(three.text.find("UNVERIFIED") != std::string::npos);
  auto same_map = [](const Profile& a, const Profile& b) {
    REQUIRE(a.values.size() == b.values.size());
    for (std::size_t i = 0; i < a.values.size(); ++i) {
      CAPTURE(a.values[i].name);
      CHECK(a.values[i].name == b.values[i].name);
      CHECK(a.values[i].address == b.values[i].address);
      CHECK(a.values[i].type == b.values[i].type);
      CHECK(a.values[i].scale == b.values[i].scale);
    }
  };
  same_map(one, *builtin_profile("acrel-ddsy1352"));
  same_map(three, *builtin_profile("acrel-dtsy1352"));
  for (const char* phase : {"voltage_b", "voltage_c", "current_b", "current_c"}) {
    CHECK(three.find(phase) != nullptr);
    CHECK(one.find(phase) == nullptr);
  }
}
