#include <doctest/doctest.h>

#include <kwh/modbus/clock.hpp>
#include <kwh/modbus/profile.hpp>
#include <kwh/util/time.hpp>

#include <string>
#include <vector>

using namespace kwh;
using namespace kwh::modbus;

namespace {

struct Zone {
  explicit Zone(const char* zone) { set_site_timezone(zone); }
  ~Zone() { set_site_timezone("UTC"); }
};

const char* k_base = R"(name = "clocked"
kind = "electricity"
[values.energy_total]
table = "holding"
address = 0
type = "u32"
)";

std::string error_of(const std::string& text) {
  try {
    parse_profile(text, "c.toml");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::config);
    return e.what();
  }
  return "(parsed)";
}

// 2026-12-02 03:04:05 in Shanghai (UTC+8) is 2026-12-01T19:04:05Z, 1796151845 = 0x6B0F1A25.
constexpr UnixTime k_t = 1796151845;

} // namespace

TEST_CASE("Clock: [clock] names the registers and their format") {
  auto p = parse_profile(std::string(k_base) + "[clock]\ntable = \"holding\"\naddress = 0x40\nformat = \"bcd\"\n", "c.toml");
  REQUIRE(p.clock);
  CHECK(p.clock->address == 0x40);
  CHECK(p.clock->format == ClockFormat::bcd);
  CHECK(p.clock->words() == 3);
  CHECK(!parse_profile(k_base, "c.toml").clock);
  CHECK(error_of(std::string(k_base) + "[clock]\ntable = \"input\"\naddress = 1\nformat = \"bcd\"\n")
            .find("clock.table: must be holding") != std::string::npos);
  CHECK(error_of(std::string(k_base) + "[clock]\ntable = \"holding\"\naddress = 1\nformat = \"iso\"\n")
            .find("clock.format: must be ymdhms, bcd or unix, not 'iso'") != std::string::npos);
  CHECK(error_of(std::string(k_base) + "[clock]\ntable = \"holding\"\nformat = \"unix\"\n").find("clock.address: missing") !=
        std::string::npos);
  CHECK(error_of(std::string(k_base) + "[clock]\ntable = \"holding\"\naddress = 65533\nformat = \"ymdhms\"\n")
            .find("clock.address: the clock runs past register 65535") != std::string::npos);
  CHECK(error_of(std::string(k_base) + "[clock]\ntable = \"holding\"\naddress = 1\nformat = \"unix\"\nzone = 8\n")
            .find("clock.zone: unknown key") != std::string::npos);
}

TEST_CASE("Clock: a DL/T 645 profile's [clock] is the standard's, set by broadcast") {
  auto p = builtin_profile("acrel-dtsy1352-dlt645");
  REQUIRE(p);
  CHECK(p->clock);
  // The Modbus built-ins name none: their register tables list no clock.
  for (const auto& name : builtin_profile_names())
    if (builtin_profile(name)->protocol == "modbus") CHECK_MESSAGE(!builtin_profile(name)->clock, name);
  const std::string dlt = "name = \"d\"\nkind = \"electricity\"\nprotocol = \"dlt645\"\n[values.energy_total]\n";
  CHECK(parse_profile(dlt + "[clock]\n", "d.toml").clock);
  CHECK(error_of(dlt + "[clock]\nset = \"write\"\n").find("clock.set: must be broadcast") != std::string::npos);
  CHECK(error_of(dlt + "[clock]\naddress = 1\n").find("clock.address: unknown key") != std::string::npos);
}

TEST_CASE("Clock: words of each format, in site time") {
  Zone zone("Asia/Shanghai");
  ClockSpec c;
  c.format = ClockFormat::ymdhms;
  CHECK(encode_clock(c, WordOrder::big, k_t).value() == std::vector<std::uint16_t>{2026, 12, 2, 3, 4, 5});
  c.format = ClockFormat::bcd;
  CHECK(encode_clock(c, WordOrder::big, k_t).value() == std::vector<std::uint16_t>{0x2612, 0x0203, 0x0405});
  c.format = ClockFormat::unix_seconds;
  CHECK(encode_clock(c, WordOrder::big, k_t).value() == std::vector<std::uint16_t>{0x6B0F, 0x1A25});
  CHECK(encode_clock(c, WordOrder::little, k_t).value() == std::vector<std::uint16_t>{0x1A25, 0x6B0F});
  for (auto f : {ClockFormat::ymdhms, ClockFormat::bcd, ClockFormat::unix_seconds})
    for (auto order : {WordOrder::big, WordOrder::little}) {
      c.format = f;
      auto words = encode_clock(c, order, k_t);
      REQUIRE(words.ok());
      CHECK(decode_clock(c, order, *words).value() == k_t);
    }
  // A BCD clock holds 2000..2099 only.
  c.format = ClockFormat::bcd;
  CHECK(!encode_clock(c, WordOrder::big, 946684800 - 86400).ok()); // 1999-12-31
}

TEST_CASE("Clock: a time that does not exist is an error, never a made-up time") {
  ClockSpec c;
  c.format = ClockFormat::ymdhms;
  auto bad = decode_clock(c, WordOrder::big, std::vector<std::uint16_t>{2026, 2, 29, 0, 0, 0});
  REQUIRE(!bad.ok());
  CHECK(bad.error().code() == Exit::data);
  CHECK(std::string(bad.error().what()).find("2026-02-29 00:00:00, not a time") != std::string::npos);
  CHECK(decode_clock(c, WordOrder::big, std::vector<std::uint16_t>{2028, 2, 29, 23, 59, 59}).ok());
  CHECK(!decode_clock(c, WordOrder::big, std::vector<std::uint16_t>{2026, 1, 1, 24, 0, 0}).ok());
  CHECK(!decode_clock(c, WordOrder::big, std::vector<std::uint16_t>{2026, 1, 1}).ok()); // too few words
  c.format = ClockFormat::bcd;
  auto nibble = decode_clock(c, WordOrder::big, std::vector<std::uint16_t>{0x261A, 0x0203, 0x0405});
  REQUIRE(!nibble.ok());
  CHECK(std::string(nibble.error().what()).find("byte 0x1A is not BCD") != std::string::npos);
}

TEST_CASE("Clock: a DL/T 645 meter's date and time") {
  Zone zone("Asia/Shanghai");
  // 2026-12-02 is a Wednesday (WW = 03).
  CHECK(dlt645_clock(26120203, 30405).value() == k_t);
  CHECK(!dlt645_clock(26130203, 30405).ok()); // month 13
  CHECK(!dlt645_clock(26120203, 36005).ok()); // minute 60
}
