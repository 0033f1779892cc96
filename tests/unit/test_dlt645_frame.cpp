// DL/T 645-2007 framing: a corpus of frames derived by hand from the standard, the decoder's
// handling of preambles, garbage, cut and corrupt frames, and the value decoding of the
// identifier table.

#include <kwh/dlt645/frame.hpp>
#include <kwh/dlt645/identifiers.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <string_view>

using namespace kwh::dlt645;
using Bytes = std::vector<std::uint8_t>;

namespace {

// "68 12 90" → {0x68, 0x12, 0x90}.
Bytes hex(std::string_view text) {
  Bytes out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    out.push_back(static_cast<std::uint8_t>(nibble(text[i]) << 4 | nibble(text[i + 1])));
    i += 2;
  }
  return out;
}

Bytes preamble(const Bytes& frame) {
  Bytes out(4 + frame.size(), 0xFE);
  std::copy(frame.begin(), frame.end(), out.begin() + 4);
  return out;
}

const Address k_meter = Address::parse("123456789012").value();

const Identifier& id(std::string_view name) {
  const Identifier* i = find_identifier(name);
  REQUIRE(i != nullptr);
  return *i;
}

Frame decoded(const Bytes& bytes) {
  auto f = decode_frame(bytes);
  REQUIRE_MESSAGE(f.ok(), f.error().what());
  return *f;
}

std::string bad_frame(const Bytes& bytes) {
  auto s = scan_frame(bytes);
  REQUIRE(s.status == FrameScan::Status::invalid);
  return s.describe();
}

} // namespace

// The corpus. Every frame below is 68 A0..A5 68 C L DATA CS 16, with the address lowest byte
// first, each data byte +0x33, and CS the sum of 68 through the last data byte, modulo 256.
// The header 68 12 90 78 56 34 12 68 (meter 123456789012) sums to 0x286.

// Read energy_total (DI 0x00010000) from 123456789012:
//   address 12 34 56 78 90 12 reversed: 12 90 78 56 34 12
//   C = 11 (read data), L = 04
//   DI 0x00010000 lowest byte first: 00 00 01 00; +0x33: 33 33 34 33 (sum 0xCD)
//   CS = 0x286 + 0x11 + 0x04 + 0xCD = 0x368 → 68
constexpr std::string_view k_read_energy = "68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 16";

// Its reply with value bytes N1..N4 = 00 12 34 56 (lowest first, so the digits read from N4
// down are 56 34 12 00: 563412.00 kWh):
//   C = 91 (reply, read data, no follow-up), L = 08
//   data 00 00 01 00 00 12 34 56; +0x33: 33 33 34 33 33 45 67 89 (sum 0x235)
//   CS = 0x286 + 0x91 + 0x08 + 0x235 = 0x554 → 54
constexpr std::string_view k_energy_reply = "68 12 90 78 56 34 12 68 91 08 33 33 34 33 33 45 67 89 54 16";

// An error reply to a read, error word 0x02 (no requested data):
//   C = D1 (reply | abnormal | read data), L = 01, data 02 + 0x33 = 35
//   CS = 0x286 + 0xD1 + 0x01 + 0x35 = 0x38D → 8D
constexpr std::string_view k_error_reply = "68 12 90 78 56 34 12 68 D1 01 35 8D 16";

// Broadcast time 2024-06-15 14:30:00:
//   address 99 × 6; header 68 + 6 × 99 + 68 = 0x466
//   C = 08, L = 06, data ss mm hh DD MM YY = 00 30 14 15 06 24; +0x33: 33 63 47 48 39 57
//   (sum 0x1B5); CS = 0x466 + 0x08 + 0x06 + 0x1B5 = 0x629 → 29
constexpr std::string_view k_broadcast_time = "68 99 99 99 99 99 99 68 08 06 33 63 47 48 39 57 29 16";

// Relay trip of 123456789012, password 02 00 00 00, operator 00 00 00 00, valid until
// 2099-12-31 23:59:59:
//   C = 1C, L = 10 (16 bytes)
//   data 02 00 00 00 | 00 00 00 00 | 1A 00 | 59 59 23 31 12 99
//   +0x33: 35 33 33 33 | 33 33 33 33 | 4D 33 | 8C 8C 56 64 45 CC (sum 0x4FD)
//   CS = 0x286 + 0x1C + 0x10 + 0x4FD = 0x7AF → AF
constexpr std::string_view k_relay_trip =
    "68 12 90 78 56 34 12 68 1C 10 35 33 33 33 33 33 33 33 4D 33 8C 8C 56 64 45 CC AF 16";

// Read address, the example every DL/T 645 manual prints:
//   header 68 + 6 × AA + 68 = 0x4CC; C = 13, L = 00; CS = 0x4CC + 0x13 = 0x4DF → DF
constexpr std::string_view k_read_address = "68 AA AA AA AA AA AA 68 13 00 DF 16";

// Its reply: C = 93, L = 06, data = the address again, 12 90 78 56 34 12 + 0x33 =
// 45 C3 AB 89 67 45 (sum 0x2E8); CS = 0x286 + 0x93 + 0x06 + 0x2E8 = 0x607 → 07
constexpr std::string_view k_address_reply = "68 12 90 78 56 34 12 68 93 06 45 C3 AB 89 67 45 07 16";

// Relay control done: C = 9C, L = 00; CS = 0x286 + 0x9C = 0x322 → 22.
constexpr std::string_view k_relay_ok = "68 12 90 78 56 34 12 68 9C 00 22 16";

// Relay control refused, error word 0x04 (wrong password): C = DC, L = 01, data 04 + 0x33 = 37;
// CS = 0x286 + 0xDC + 0x01 + 0x37 = 0x39A → 9A.
constexpr std::string_view k_relay_refused = "68 12 90 78 56 34 12 68 DC 01 37 9A 16";

TEST_CASE("dlt645: an address is 12 digits, sent as BCD lowest byte first") {
  CHECK(k_meter.wire() == std::array<std::uint8_t, 6>{0x12, 0x90, 0x78, 0x56, 0x34, 0x12});
  CHECK(k_meter.format() == "123456789012");
  CHECK(Address::broadcast().format() == "999999999999");
  CHECK(Address::wildcard().format() == "AAAAAAAAAAAA");
  CHECK(Address::parse("aaaaaaaaaaaa").value() == Address::wildcard());
  CHECK(Address::parse("AAAA56789012")->has_wildcard());
  CHECK(Address::parse("AAAA56789012")->matches(k_meter));
  CHECK(!k_meter.matches(Address::parse("123456789013").value()));
  CHECK(Address().format() == "000000000000");

  for (auto text : {"", "12345678901", "1234567890123", "12345678901x", "A23456789012", "12345678901 ", "-12345678901"}) {
    auto a = Address::parse(text);
    REQUIRE(!a.ok());
    CHECK(a.error().code() == kwh::Exit::data);
  }
  CHECK(std::string(Address::parse("12345").error().what()) == "meter address '12345': must be 12 decimal digits");
  CHECK(!Address::from_wire(hex("12 90 78 56 34 1F")).ok());
  CHECK(!Address::from_wire(hex("12 90 78 56 34")).ok());
}

TEST_CASE("dlt645: the control code's bits") {
  Control c{0xB1};
  CHECK(c.from_meter());
  CHECK(!c.abnormal());
  CHECK(c.more_follows());
  CHECK(c.function() == Function::read_data);
  CHECK(Control::request(Function::read_data).byte == 0x11);
  CHECK(Control::reply(Function::read_data).byte == 0x91);
  CHECK(Control::reply(Function::read_data, true).byte == 0xB1);
  CHECK(Control::reply(Function::relay_control).byte == 0x9C);
  CHECK(Control::error_reply(Function::read_data).byte == 0xD1);
  CHECK(Control::error_reply(Function::relay_control).byte == 0xDC);
  CHECK(function_name(Function::relay_control) == "relay control");
  CHECK(function_name(static_cast<Function>(0x05)) == "function 0x05");
}

TEST_CASE("dlt645: the corpus of requests is encoded byte for byte") {
  CHECK(encode_frame(read_request(k_meter, 0x00010000), 0) == hex(k_read_energy));
  CHECK(encode_frame(read_request(k_meter, 0x00010000)) == preamble(hex(k_read_energy)));
  CHECK(encode_frame(read_address_request(), 0) == hex(k_read_address));
  CHECK(encode_frame(read_request(Address::wildcard(), 0x00000000), 0) ==
        hex("68 AA AA AA AA AA AA 68 11 04 33 33 33 33 AD 16"));

  kwh::LocalTime t;
  t.year = 2024, t.month = 6, t.day = 15, t.hour = 14, t.minute = 30, t.second = 0;
  CHECK(encode_frame(broadcast_time_request(t), 0) == hex(k_broadcast_time));

  RelayCommand trip;
  trip.action = RelayAction::trip;
  trip.password = {0x02, 0x00, 0x00, 0x00};
  trip.operator_code = {0x00, 0x00, 0x00, 0x00};
  trip.valid_until.year = 2099, trip.valid_until.month = 12, trip.valid_until.day = 31;
  trip.valid_until.hour = 23, trip.valid_until.minute = 59, trip.valid_until.second = 59;
  CHECK(encode_frame(relay_request(k_meter, trip), 0) == hex(k_relay_trip));

  CHECK(encode_frame(read_reply(k_meter, 0x00010000, hex("00 12 34 56")), 0) == hex(k_energy_reply));
  CHECK(encode_frame(error_reply(k_meter, Function::read_data, 0x02), 0) == hex(k_error_reply));
  CHECK(encode_frame(error_reply(k_meter, Function::relay_control, 0x04), 0) == hex(k_relay_refused));
}

TEST_CASE("dlt645: times a meter cannot hold are refused") {
  kwh::LocalTime t;
  t.year = 2023, t.month = 2, t.day = 29;
  CHECK_THROWS_AS(broadcast_time_request(t), kwh::Error);
  t.year = 2024; // a leap year
  CHECK_NOTHROW(broadcast_time_request(t));
  t.year = 2100;
  CHECK_THROWS_AS(broadcast_time_request(t), kwh::Error);
  t.year = 2024, t.hour = 24;
  CHECK_THROWS_AS(broadcast_time_request(t), kwh::Error);
  RelayCommand r; // valid_until defaults to 1970
  CHECK_THROWS_AS(relay_request(k_meter, r), kwh::Error);
}

TEST_CASE("dlt645: reading energy_total, its reply is 563412.00 kWh") {
  Frame f = decoded(preamble(hex(k_energy_reply)));
  CHECK(f.address == k_meter);
  CHECK(f.control.byte == 0x91);
  CHECK(f.data == hex("00 00 01 00 00 12 34 56"));
  CHECK(f.describe() == "read data reply from 123456789012, 8 data bytes");

  auto r = decode_read_reply(f, k_meter, 0x00010000);
  REQUIRE(r.ok());
  CHECK(r->di == 0x00010000);
  CHECK(r->value == hex("00 12 34 56"));
  CHECK(!r->more);

  auto v = decode_value(id("energy_total"), r->value);
  REQUIRE(v.ok());
  CHECK(v->raw == 56341200);
  CHECK(format_raw(id("energy_total"), v->raw) == "563412.00");
  CHECK(v->integer == 563412000); // Wh
  CHECK(v->real == 563412000.0);

  // The request decodes too (what a simulator or an echoing converter sees).
  Frame q = decoded(hex(k_read_energy));
  CHECK(q.control == Control::request(Function::read_data));
  CHECK(q.data == hex("00 00 01 00"));
  CHECK(q.describe() == "read data request to 123456789012, 4 data bytes");
}

TEST_CASE("dlt645: an error reply carries the meter's reason") {
  Frame f = decoded(hex(k_error_reply));
  CHECK(error_word(f) == 0x02);
  auto r = decode_read_reply(f, k_meter, 0x00010000);
  REQUIRE(!r.ok());
  CHECK(std::string(r.error().what()) == "the meter refused: no requested data");
  CHECK(r.error().code() == kwh::Exit::failed);

  CHECK(describe_error_word(k_error_unauthorised) == "the meter refused: wrong password or not authorised");
  CHECK(describe_error_word(0x03) == "the meter refused: other error, no requested data");
  CHECK(describe_error_word(0x70) ==
        "the meter refused: year time zone count exceeded, daily period count exceeded, tariff count exceeded");
  CHECK(describe_error_word(0x08) == "the meter refused: communication rate cannot change");
  CHECK(describe_error_word(0x00) == "the meter refused without saying why (error word 0x00)");
  CHECK(!error_word(decoded(hex(k_energy_reply))));
}

TEST_CASE("dlt645: relay control and read address replies") {
  CHECK(!check_relay_reply(decoded(hex(k_relay_ok)), k_meter));
  auto refused = check_relay_reply(decoded(hex(k_relay_refused)), k_meter);
  REQUIRE(refused);
  CHECK(std::string(refused->what()) == "the meter refused: wrong password or not authorised");
  // The request itself (a converter's echo) is not the reply.
  auto echo = check_relay_reply(decoded(hex(k_relay_trip)), k_meter);
  REQUIRE(echo);
  CHECK(std::string(echo->what()) == "not the reply: a request (control 0x1C)");
  CHECK(check_relay_reply(decoded(hex(k_relay_ok)), Address::parse("000000000001").value()));

  auto address = decode_address_reply(decoded(hex(k_address_reply)));
  REQUIRE(address.ok());
  CHECK(*address == k_meter);
  CHECK(!decode_address_reply(decoded(hex(k_relay_ok))).ok());
}

TEST_CASE("dlt645: read replies that do not answer the request") {
  auto not_it = [](const Frame& f, std::uint32_t di, const std::string& why) {
    auto r = decode_read_reply(f, k_meter, di);
    REQUIRE(!r.ok());
    CHECK(std::string(r.error().what()) == why);
  };
  Frame reply = decoded(hex(k_energy_reply));
  not_it(reply, 0x02010100, "not the reply: value of DI 0x00010000, asked 0x02010100");
  not_it(decoded(hex(k_read_energy)), 0x00010000, "not the reply: a request (control 0x11)");
  not_it(decoded(hex(k_relay_ok)), 0x00010000, "not the reply: relay control reply, expected read data");
  Frame other = reply;
  other.address = Address::parse("123456789013").value();
  not_it(other, 0x00010000, "not the reply: from meter 123456789013, asked 123456789012");
  Frame shorter = reply;
  shorter.data.resize(3);
  not_it(shorter, 0x00010000, "not the reply: read reply with 3 data bytes, too few for an identifier");
  Frame long_error{k_meter, Control::error_reply(Function::read_data), {0x02, 0x00}};
  not_it(long_error, 0x00010000, "not the reply: error reply with 2 data bytes, expected 1");
  // A wildcard request is answered by whichever meter; more follows on 0xB1.
  Frame more = read_reply(k_meter, 0x00010000, hex("00 12 34 56"), true);
  CHECK(more.control.byte == 0xB1);
  auto r = decode_read_reply(more, Address::wildcard(), 0x00010000);
  REQUIRE(r.ok());
  CHECK(r->more);
}

TEST_CASE("dlt645: the decoder skips the preamble and garbage before the first 0x68") {
  for (const Bytes& before : {Bytes{}, Bytes{0xFE}, Bytes(40, 0xFE), Bytes{0x00, 0xFF, 0x16, 0xFE, 0xFE},
                              Bytes{0x33, 0x99, 0xAA}}) {
    CAPTURE(before.size());
    Bytes buf = before;
    auto frame = hex(k_energy_reply);
    buf.insert(buf.end(), frame.begin(), frame.end());
    auto s = scan_frame(buf);
    REQUIRE(s.status == FrameScan::Status::complete);
    CHECK(s.size == buf.size());
    CHECK(s.frame.data == hex("00 00 01 00 00 12 34 56"));
  }
  // Only preamble or noise: wait for more.
  CHECK(scan_frame(Bytes(10, 0xFE)).status == FrameScan::Status::incomplete);
  CHECK(scan_frame(Bytes{}).status == FrameScan::Status::incomplete);
}

TEST_CASE("dlt645: a stream reader takes frames one after another") {
  // What a half-duplex converter hands back: the echo of the request, then the reply, then the
  // first bytes of something else.
  Bytes buf = preamble(hex(k_read_energy));
  auto reply = preamble(hex(k_energy_reply));
  buf.insert(buf.end(), reply.begin(), reply.end());
  buf.insert(buf.end(), {0xFE, 0x68, 0x12});

  std::span<const std::uint8_t> rest(buf);
  auto first = scan_frame(rest);
  REQUIRE(first.status == FrameScan::Status::complete);
  CHECK(first.size == 4 + 16);
  CHECK(!first.frame.control.from_meter());
  rest = rest.subspan(first.size);
  auto second = scan_frame(rest);
  REQUIRE(second.status == FrameScan::Status::complete);
  CHECK(second.size == 4 + 20);
  CHECK(second.frame.control.byte == 0x91);
  rest = rest.subspan(second.size);
  CHECK(scan_frame(rest).status == FrameScan::Status::incomplete);

  // decode_frame wants exactly one frame.
  auto two = decode_frame(buf);
  REQUIRE(!two.ok());
  CHECK(std::string(two.error().what()).starts_with("bad frame: "));
  CHECK(std::string(two.error().what()).ends_with(" bytes after the end"));
}

TEST_CASE("dlt645: a frame cut at any point is incomplete, never bad") {
  for (auto text : {k_read_energy, k_energy_reply, k_error_reply, k_broadcast_time, k_relay_trip, k_read_address,
                    k_address_reply, k_relay_ok}) {
    Bytes whole = preamble(hex(text));
    for (std::size_t n = 0; n < whole.size(); ++n) {
      CAPTURE(n);
      auto s = scan_frame(std::span(whole).first(n));
      CHECK(s.status == FrameScan::Status::incomplete);
      CHECK(s.size == 0);
    }
    CHECK(scan_frame(whole).status == FrameScan::Status::complete);
    auto cut = decode_frame(std::span(whole).first(whole.size() - 1));
    REQUIRE(!cut.ok());
    CHECK(std::string(cut.error().what()) == "incomplete frame: need more bytes");
  }
}

TEST_CASE("dlt645: corrupt frames are bad frames that say why") {
  Bytes good = preamble(hex(k_energy_reply)); // the frame starts at byte 4
  const std::size_t cs = good.size() - 2;

  SUBCASE("bad checksum") {
    good[cs] = 0x55;
    CHECK(bad_frame(good) == "bad frame: checksum 0x55, computed 0x54");
    CHECK(scan_frame(good).size == 5); // the preamble and the first 0x68
  }
  SUBCASE("a data byte changed in transit") {
    good[14] ^= 0x01;
    CHECK(bad_frame(good) == "bad frame: checksum 0x54, computed 0x53");
  }
  SUBCASE("bad end byte") {
    good.back() = 0x17;
    CHECK(bad_frame(good) == "bad frame: end byte 0x17, expected 0x16 after 8 data bytes");
  }
  SUBCASE("L one too many") {
    good[4 + 9] = 0x09;
    // Waits for the byte L promises, then finds no 0x16 where it should be.
    CHECK(scan_frame(good).status == FrameScan::Status::incomplete);
    good.push_back(0x00);
    CHECK(bad_frame(good) == "bad frame: end byte 0x00, expected 0x16 after 9 data bytes");
  }
  SUBCASE("L one too few") {
    good[4 + 9] = 0x07;
    CHECK(bad_frame(good) == "bad frame: end byte 0x54, expected 0x16 after 7 data bytes");
  }
  SUBCASE("L above the standard's 200") {
    good[4 + 9] = 201;
    CHECK(bad_frame(good) == "bad frame: L = 201, above the standard's 200");
  }
  SUBCASE("no second 0x68") {
    good[4 + 7] = 0x69;
    CHECK(bad_frame(good) == "bad frame: byte 0x69 where the second 0x68 belongs");
    CHECK(scan_frame(good).size == 5);
  }
  SUBCASE("an address byte that is not BCD") {
    good[4 + 1] = 0x1B;
    CHECK(bad_frame(good) == "bad frame: address byte 0x1B is neither BCD nor 0xAA");
  }
  SUBCASE("a stray 0x68 in the noise: drop it and the frame follows") {
    Bytes buf{0x68, 0x01, 0x02};
    buf.insert(buf.end(), good.begin(), good.end());
    auto s = scan_frame(buf);
    REQUIRE(s.status == FrameScan::Status::invalid);
    CHECK(s.size == 1);
    auto again = scan_frame(std::span(buf).subspan(s.size));
    REQUIRE(again.status == FrameScan::Status::complete);
    CHECK(again.size == buf.size() - 1);
  }
}

TEST_CASE("dlt645: values decode exactly in their units") {
  auto value = [](std::string_view name, std::string_view bytes) {
    auto v = decode_value(id(name), hex(bytes));
    REQUIRE_MESSAGE(v.ok(), v.error().what());
    return *v;
  };
  // 220.3 V: XXX.X, 2 bytes, 2203 lowest byte first is 03 22.
  auto u = value("voltage_a", "03 22");
  CHECK(u.raw == 2203);
  CHECK(u.real == 220.3);
  CHECK(!u.integer);
  // 12.345 A: XXX.XXX, 3 bytes 012345 → 45 23 01; with the sign bit, -12.345 A.
  CHECK(value("current_b", "45 23 01").real == 12.345);
  CHECK(value("current_c", "45 23 81").real == -12.345);
  // 1.2345 kW = 1234.5 W: XX.XXXX, 3 bytes 012345; -: 45 23 81.
  CHECK(value("power_total", "45 23 01").real == 1234.5);
  CHECK(value("power_total", "45 23 81").real == -1234.5);
  // Power factor 0.987: X.XXX, 2 bytes 0987 → 87 09; -0.5 is 0500 with the sign: 00 85.
  CHECK(value("power_factor", "87 09").real == 0.987);
  CHECK(value("power_factor", "00 85").real == -0.5);
  // 50.01 Hz: XX.XX, 5001 → 01 50.
  CHECK(value("frequency", "01 50").real == 50.01);
  // 12345.67 kWh: digits 01 23 45 67 lowest first → 67 45 23 01; 1234567 × 10 Wh.
  CHECK(value("energy_valley", "67 45 23 01").integer == 12345670);
  // Remaining money 1234.56 yuan = 123456 fen.
  auto money = value("meter_balance", "56 34 12 00");
  CHECK(money.integer == 123456);
  CHECK(format_raw(id("meter_balance"), money.raw) == "1234.56");
  CHECK(value("purchase_count", "12 00").integer == 12);
  // Status word 3: bit 4 set, the relay is open; the word is binary, not BCD.
  auto status = value("status_word_3", "10 00");
  CHECK((status.integer.value() & k_status3_relay_off) != 0);
  CHECK(value("status_word_3", "FF 03").integer == 0x03FF);
}

TEST_CASE("dlt645: bytes that are not BCD are an error, never a number") {
  auto refused = [](std::string_view name, std::string_view bytes, const std::string& why) {
    auto v = decode_value(id(name), hex(bytes));
    REQUIRE(!v.ok());
    CHECK(v.error().code() == kwh::Exit::data);
    CHECK(std::string(v.error().what()) == why);
  };
  refused("energy_total", "00 12 3A 56", "energy_total: byte 0x3A is not BCD");
  refused("energy_total", "A0 12 34 56", "energy_total: byte 0xA0 is not BCD");
  refused("voltage_a", "FF FF", "voltage_a: byte 0xFF is not BCD");
  refused("current_a", "00 00 FA", "current_a: byte 0xFA is not BCD"); // sign bit, then A
  refused("voltage_a", "03 22 00", "voltage_a: 3 value bytes, expected 2");
  refused("energy_total", "", "energy_total: 0 value bytes, expected 4");
  // Without a sign in the format, a top bit is the digit 8: 800000.00 kWh.
  CHECK(decode_value(id("energy_total"), hex("00 00 00 80"))->raw == 80000000);
  CHECK(decode_bcd(hex("99 99 99 99 99 99 99 99 99")).value() == 999999999999999999);
  CHECK(!decode_bcd(Bytes(10, 0)).ok());
}

TEST_CASE("dlt645: the identifier table") {
  CHECK(id("energy_total").di == 0x00010000);
  CHECK(id("energy_sharp").di == 0x00010100);
  CHECK(id("energy_valley").di == 0x00010400);
  CHECK(id("voltage_c").di == 0x02010300);
  CHECK(id("current_a").di == 0x02020100);
  CHECK(id("frequency").di == 0x02800002);
  CHECK(id("status_word_3").di == 0x04000503);
  CHECK(id("meter_balance").di == 0x00900200);
  CHECK(id("clock_date").di == 0x04000101);
  CHECK(id("clock_time").di == 0x04000102);
  CHECK(find_identifier(0x02030000)->name == "power_total");
  CHECK(find_identifier("no_such_value") == nullptr);
  CHECK(find_identifier(0xFFFFFFFFu) == nullptr);
  for (const auto& i : identifiers()) {
    CAPTURE(i.name);
    CHECK(find_identifier(i.di) == &i);
    CHECK(find_identifier(i.name) == &i);
    // The format's digits fill the bytes exactly.
    auto digits = i.format.size() - static_cast<std::size_t>(std::count(i.format.begin(), i.format.end(), '.'));
    CHECK(digits == 2u * i.bytes);
    auto point = i.format.find('.');
    CHECK((point == std::string_view::npos ? 0 : i.format.size() - point - 1) == i.decimals);
  }
}

TEST_CASE("dlt645: round trips") {
  SUBCASE("values") {
    for (const auto& i : identifiers()) {
      CAPTURE(i.name);
      const bool sign = i.encoding == Encoding::bcd_signed;
      for (std::int64_t raw : {std::int64_t{0}, std::int64_t{1}, std::int64_t{1234}, std::int64_t{-1234}, std::int64_t{7999}}) {
        auto bytes = encode_value(i, raw);
        if (raw < 0 && !sign) {
          CHECK(!bytes.ok());
          continue;
        }
        REQUIRE(bytes.ok());
        auto v = decode_value(i, *bytes);
        REQUIRE(v.ok());
        CHECK(v->raw == raw);
      }
    }
    // The largest numbers each format holds, and one past them.
    CHECK(encode_bcd(99999999, 4).ok());
    CHECK(!encode_bcd(100000000, 4).ok());
    CHECK(encode_bcd(-799999, 3, true).value() == hex("99 99 F9"));
    CHECK(!encode_bcd(800000, 3, true).ok());
  }
  SUBCASE("frames") {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{4}, std::size_t{200}}) {
      Frame f{k_meter, Control{0xB1}, Bytes(n)};
      for (std::size_t i = 0; i < n; ++i) f.data[i] = static_cast<std::uint8_t>(i * 37 + 0xCD); // 0xCD + 0x33 wraps
      for (std::size_t pre : {std::size_t{0}, std::size_t{4}}) {
        auto bytes = encode_frame(f, pre);
        CHECK(bytes.size() == pre + k_overhead + n);
        CHECK(decoded(bytes) == f);
      }
    }
    CHECK_THROWS_AS(encode_frame(Frame{k_meter, Control{0x91}, Bytes(201)}), kwh::Error);
  }
}
