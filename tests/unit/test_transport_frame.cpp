// Modbus framing: CRC, request encoding, and the checks a reply must pass.

#include <kwh/transport/frame.hpp>

#include <doctest/doctest.h>

using namespace kwh::transport;
using Bytes = std::vector<std::uint8_t>;

TEST_CASE("Transport: CRC-16/Modbus matches the specification's example") {
  // Modbus over serial line, appendix B: 01 03 00 00 00 0A has CRC C5 CD on the wire.
  Bytes b{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A};
  CHECK(crc16(b) == 0xCDC5);
  CHECK(encode_rtu_request(Request::read_holding(1, 0, 10)) == Bytes{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD});
  // The catalogue check value of CRC-16/MODBUS over "123456789".
  std::string s = "123456789";
  CHECK(crc16(std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size())) == 0x4B37);
}

TEST_CASE("Transport: requests are encoded as the Modbus application protocol says") {
  CHECK(encode_tcp_request(Request::read_input(7, 0x0102, 3), 0x1234) ==
        Bytes{0x12, 0x34, 0, 0, 0, 6, 7, 0x04, 0x01, 0x02, 0x00, 0x03});
  CHECK(encode_request_pdu(Request::write_coil(1, 5, true)) == Bytes{0x05, 0x00, 0x05, 0xFF, 0x00});
  CHECK(encode_request_pdu(Request::write_register(1, 0x57, 0xBEEF)) == Bytes{0x06, 0x00, 0x57, 0xBE, 0xEF});
  CHECK(encode_request_pdu(Request::write_registers(1, 0x57, {1, 0})) ==
        Bytes{0x10, 0x00, 0x57, 0x00, 0x02, 0x04, 0x00, 0x01, 0x00, 0x00});
  CHECK_THROWS(encode_request_pdu(Request::read_holding(1, 0, 0)));
  CHECK_THROWS(encode_request_pdu(Request::read_holding(1, 0, 126)));
  CHECK_THROWS(encode_request_pdu(Request::write_registers(1, 0, {})));
}

TEST_CASE("Transport: a valid reply decodes to its words and bits") {
  auto req = Request::read_holding(3, 0, 2);
  auto ok = decode_tcp_response(req, 9, wrap_tcp(9, 3, Bytes{0x03, 0x04, 0x12, 0x34, 0xAB, 0xCD}));
  REQUIRE(ok.ok());
  CHECK(ok->words == std::vector<std::uint16_t>{0x1234, 0xABCD});

  auto coils = Request::read_coils(3, 0, 10);
  auto bits = decode_rtu_response(coils, wrap_rtu(3, Bytes{0x01, 0x02, 0b00000101, 0b00000010}));
  REQUIRE(bits.ok());
  CHECK(bits->bits == std::vector<bool>{true, false, true, false, false, false, false, false, false, true});

  auto w = Request::write_registers(3, 0x57, {1, 1});
  CHECK(decode_rtu_response(w, wrap_rtu(3, Bytes{0x10, 0x00, 0x57, 0x00, 0x02})).ok());
}

TEST_CASE("Transport: an exception reply is a Failure with its code") {
  auto req = Request::read_holding(1, 0x100, 2);
  auto r = decode_tcp_response(req, 1, wrap_tcp(1, 1, Bytes{0x83, 0x02}));
  REQUIRE(!r.ok());
  CHECK(r.failure().kind == Failure::Kind::exception);
  CHECK(r.failure().exception_code == 2);
  CHECK(r.failure().describe() == "exception 2 (illegal data address)");
  CHECK(r.failure().exit_code() == kwh::Exit::failed);
  auto gw = decode_rtu_response(req, wrap_rtu(1, Bytes{0x83, 0x0B}));
  REQUIRE(!gw.ok());
  CHECK(gw.failure().exit_code() == kwh::Exit::unavailable);
}

TEST_CASE("Transport: replies that do not answer the request are bad frames") {
  auto req = Request::read_holding(1, 0, 2);
  auto bad = [&](const Outcome<Response>& r) {
    REQUIRE(!r.ok());
    CHECK(r.failure().kind == Failure::Kind::bad_frame);
  };
  SUBCASE("wrong transaction id") { bad(decode_tcp_response(req, 2, wrap_tcp(1, 1, Bytes{0x03, 0x04, 0, 1, 0, 2}))); }
  SUBCASE("wrong unit") { bad(decode_tcp_response(req, 1, wrap_tcp(1, 2, Bytes{0x03, 0x04, 0, 1, 0, 2}))); }
  SUBCASE("wrong function") { bad(decode_tcp_response(req, 1, wrap_tcp(1, 1, Bytes{0x04, 0x04, 0, 1, 0, 2}))); }
  SUBCASE("short byte count") { bad(decode_tcp_response(req, 1, wrap_tcp(1, 1, Bytes{0x03, 0x02, 0, 1}))); }
  SUBCASE("byte count disagrees with length") { bad(decode_tcp_response(req, 1, wrap_tcp(1, 1, Bytes{0x03, 0x04, 0, 1}))); }
  SUBCASE("protocol id not 0") {
    auto f = wrap_tcp(1, 1, Bytes{0x03, 0x04, 0, 1, 0, 2});
    f[3] = 1;
    bad(decode_tcp_response(req, 1, f));
  }
  SUBCASE("bad CRC") {
    auto f = wrap_rtu(1, Bytes{0x03, 0x04, 0, 1, 0, 2});
    f.back() ^= 0x55;
    bad(decode_rtu_response(req, f));
  }
  SUBCASE("RTU reply from another unit") { bad(decode_rtu_response(req, wrap_rtu(9, Bytes{0x03, 0x04, 0, 1, 0, 2}))); }
  SUBCASE("write echo with another address") {
    auto w = Request::write_register(1, 0x57, 5);
    bad(decode_rtu_response(w, wrap_rtu(1, Bytes{0x06, 0x00, 0x58, 0x00, 0x05})));
  }
  SUBCASE("trailing bytes") {
    auto f = wrap_rtu(1, Bytes{0x03, 0x04, 0, 1, 0, 2});
    f.push_back(0);
    bad(decode_rtu_response(req, f));
  }
}

TEST_CASE("Transport: RTU replies are framed by the length their function code implies") {
  auto req = Request::read_holding(1, 0, 2);
  auto full = wrap_rtu(1, Bytes{0x03, 0x04, 0, 1, 0, 2});
  for (std::size_t n = 0; n < full.size(); ++n)
    CHECK(scan_rtu_response(req, std::span(full).first(n)).status == FrameScan::Status::incomplete);
  auto s = scan_rtu_response(req, full);
  CHECK(s.status == FrameScan::Status::complete);
  CHECK(s.size == 9);
  auto ex = wrap_rtu(1, Bytes{0x83, 0x04});
  CHECK(scan_rtu_response(req, ex).size == 5);
}

TEST_CASE("Transport: the server half decodes what the client half encodes") {
  for (const auto& req : {Request::read_holding(5, 10, 4), Request::read_coils(5, 0, 9),
                          Request::write_registers(5, 0x57, {1, 0}), Request::write_coil(5, 3, true),
                          Request::write_register(5, 0x100, 1234)}) {
    auto rtu = encode_rtu_request(req);
    auto scan = scan_rtu_request(rtu);
    REQUIRE(scan.status == FrameScan::Status::complete);
    CHECK(scan.size == rtu.size());
    auto back = decode_request_pdu(scan.unit, scan.pdu);
    REQUIRE(back.ok());
    CHECK(back->function == req.function);
    CHECK(back->address == req.address);
    CHECK(back->values == req.values);
    Response resp;
    resp.words.assign(req.count, 7);
    resp.bits.assign(req.count, true);
    CHECK(decode_rtu_response(req, wrap_rtu(5, encode_response_pdu(*back, resp))).ok());
  }
  auto unknown = decode_request_pdu(1, Bytes{0x2B, 0x0E});
  REQUIRE(!unknown.ok());
  CHECK(unknown.failure().exception_code == 1);
}
