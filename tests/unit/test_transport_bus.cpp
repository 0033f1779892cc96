// The Bus against a scripted device on a loopback socket: answers, each failure type, one
// request at a time with the gap, reconnects, and late replies never taken for later requests.

#include "test_transport_peer.hpp"

#include <kwh/transport/bus.hpp>
#include <kwh/transport/client.hpp>

#include <doctest/doctest.h>

#include <optional>
#include <thread>

using namespace kwh::transport;
using kwh::test::FakePeer;
using kwh::test::PeerAction;
using kwh::test::SeenRequest;
using namespace std::chrono_literals;

namespace {

GatewaySpec spec_for(const FakePeer& peer, Kind kind, std::chrono::milliseconds timeout = 200ms) {
  GatewaySpec g;
  g.name = "test";
  g.kind = kind;
  g.address = peer.address();
  g.timeout = timeout;
  return g;
}

// Submits and runs the io_context until the request completes.
Outcome<Response> call(boost::asio::io_context& io, Bus& bus, Request req) {
  std::optional<Outcome<Response>> out;
  bus.submit(std::move(req), [&](Outcome<Response> o) { out.emplace(std::move(o)); });
  io.restart();
  auto end = std::chrono::steady_clock::now() + 5s;
  while (!out && std::chrono::steady_clock::now() < end) io.run_one_for(100ms);
  REQUIRE(out.has_value());
  return std::move(*out);
}

Failure::Kind kind_of(const Outcome<Response>& o) {
  REQUIRE(!o.ok());
  return o.failure().kind;
}

} // namespace

TEST_CASE("Transport: a bus reads registers over Modbus TCP and RTU over TCP") {
  for (Kind kind : {Kind::tcp, Kind::rtu_over_tcp}) {
    std::string kind_text = kind_name(kind);
    CAPTURE(kind_text);
    boost::asio::io_context io;
    FakePeer peer(io, kind != Kind::tcp, [&](const SeenRequest& s, int) {
      return std::vector<PeerAction>{{peer.answer(s, 100)}};
    });
    Bus bus(io, spec_for(peer, kind));
    auto r = call(io, bus, Request::read_holding(1, 0x10, 3));
    REQUIRE(r.ok());
    CHECK(r->words == std::vector<std::uint16_t>{0x74, 0x75, 0x76});
    auto w = call(io, bus, Request::write_registers(4, 0x57, {1, 1}));
    CHECK(w.ok());
    REQUIRE(peer.seen().size() == 2);
    CHECK(peer.seen()[1].req.values == std::vector<std::uint16_t>{1, 1});
    CHECK(peer.seen()[1].req.unit == 4);
    CHECK(bus.status().connected);
    CHECK(peer.connections() == 1);
  }
}

TEST_CASE("Transport: each failure type comes back as a typed Failure") {
  boost::asio::io_context io;
  FakePeer peer(io, false, [&](const SeenRequest& s, int i) -> std::vector<PeerAction> {
    switch (i) {
    case 0: return {{peer.frame(s, encode_exception_pdu(s.req.function, 2))}};
    case 1: return {}; // silence
    case 2: return {{peer.frame(s, {0x03, 0x02, 0x00})}}; // short reply
    case 3: return {{{}, 0ms, true}};                      // hang up
    default: return {{peer.answer(s)}};
    }
  });
  Bus bus(io, spec_for(peer, Kind::tcp, 300ms));
  auto ex = call(io, bus, Request::read_holding(1, 0, 2));
  CHECK(kind_of(ex) == Failure::Kind::exception);
  CHECK(ex.failure().exception_code == 2);
  CHECK(kind_of(call(io, bus, Request::read_holding(1, 0, 2))) == Failure::Kind::timeout);
  CHECK(kind_of(call(io, bus, Request::read_holding(1, 0, 2))) == Failure::Kind::bad_frame);
  CHECK(kind_of(call(io, bus, Request::read_holding(1, 0, 2))) == Failure::Kind::connection_lost);
  CHECK(!bus.status().connected);
  // The next request reconnects.
  auto ok = call(io, bus, Request::read_holding(1, 0, 2));
  CHECK(ok.ok());
  CHECK(peer.connections() >= 2);
  CHECK(bus.status().reconnects >= 1);
  CHECK(bus.status().consecutive_failures == 0);
}

TEST_CASE("Transport: a connection the gateway closed while idle is reopened, not failed") {
  boost::asio::io_context io;
  // The gateway answers, then hangs up (as gateways do with idle connections).
  FakePeer peer(io, false, [&](const SeenRequest& s, int) {
    return std::vector<PeerAction>{{peer.answer(s)}, {{}, 10ms, true}};
  });
  Bus bus(io, spec_for(peer, Kind::tcp));
  CHECK(call(io, bus, Request::read_holding(1, 0, 1)).ok());
  io.restart();
  io.run_for(100ms); // the hang-up happens while the bus is idle
  CHECK(call(io, bus, Request::read_holding(1, 0, 1)).ok());
  CHECK(peer.connections() >= 2);
  CHECK(bus.status().failures == 0);
}

TEST_CASE("Transport: a gateway that is not listening is connection_refused") {
  boost::asio::io_context io;
  std::string address;
  {
    FakePeer gone(io, false, [](const SeenRequest&, int) { return std::vector<PeerAction>{}; });
    address = gone.address();
  }
  GatewaySpec g;
  g.address = address;
  Bus bus(io, g);
  CHECK(kind_of(call(io, bus, Request::read_holding(1, 0, 1))) == Failure::Kind::connection_refused);
  CHECK(bus.status().consecutive_connect_failures == 1);
  GatewaySpec serial;
  serial.kind = Kind::rtu_serial;
  serial.address = "/nonexistent/ttyUSB9";
  Bus sbus(io, serial);
  CHECK(kind_of(call(io, sbus, Request::read_holding(1, 0, 1))) == Failure::Kind::connection_refused);
}

TEST_CASE("Transport: a late reply is never taken for the answer to a later request") {
  for (Kind kind : {Kind::tcp, Kind::rtu_over_tcp}) {
    std::string kind_text = kind_name(kind);
    CAPTURE(kind_text);
    boost::asio::io_context io;
    // Request 1 is answered after the timeout with words 1000+; request 2 at once with 2000+.
    FakePeer peer(io, kind != Kind::tcp, [&](const SeenRequest& s, int i) -> std::vector<PeerAction> {
      if (i == 0) return {{peer.answer(s, 1000), 500ms}};
      return {{peer.answer(s, 2000)}};
    });
    Bus bus(io, spec_for(peer, kind, 300ms));
    auto first = call(io, bus, Request::read_holding(1, 0, 2));
    CHECK(kind_of(first) == Failure::Kind::timeout);
    auto second = call(io, bus, Request::read_holding(1, 0, 2));
    REQUIRE(second.ok());
    CHECK(second->words == std::vector<std::uint16_t>{2000, 2001});
    // Let the late reply arrive (TCP: it waits in the socket ahead of the third reply).
    std::this_thread::sleep_for(400ms);
    auto third = call(io, bus, Request::read_holding(1, 0, 2));
    REQUIRE(third.ok());
    CHECK(third->words == std::vector<std::uint16_t>{2000, 2001});
    // The late reply was seen and thrown away (TCP: by its transaction id; RTU: by the drain).
    CHECK(bus.status().stale_frames_dropped >= 1);
  }
}

TEST_CASE("Transport: RTU with a corrupt CRC is a bad frame, and the bus recovers") {
  boost::asio::io_context io;
  FakePeer peer(io, true, [&](const SeenRequest& s, int i) -> std::vector<PeerAction> {
    auto bytes = peer.answer(s);
    if (i == 0) bytes.back() ^= 0xFF;
    return {{bytes}};
  });
  Bus bus(io, spec_for(peer, Kind::rtu_over_tcp, 300ms));
  CHECK(kind_of(call(io, bus, Request::read_holding(1, 0, 2))) == Failure::Kind::bad_frame);
  CHECK(call(io, bus, Request::read_holding(1, 0, 2)).ok());
}

TEST_CASE("Transport: a bus carries one request at a time, with the gateway's gap") {
  boost::asio::io_context io;
  FakePeer peer(io, false, [&](const SeenRequest& s, int) { return std::vector<PeerAction>{{peer.answer(s), 30ms}}; });
  auto g = spec_for(peer, Kind::tcp, 500ms);
  g.gap = 50ms;
  Bus bus(io, g);
  std::vector<std::chrono::steady_clock::time_point> done_at;
  int ok = 0;
  for (std::uint16_t i = 0; i < 4; ++i)
    bus.submit(Request::read_holding(1, i, 1), [&, i](Outcome<Response> o) {
      done_at.push_back(std::chrono::steady_clock::now());
      if (o.ok() && o->words == std::vector<std::uint16_t>{i}) ++ok;
    });
  CHECK(bus.status().queued == 4);
  io.run_for(3s);
  CHECK(ok == 4);
  REQUIRE(peer.seen().size() == 4);
  for (std::size_t i = 1; i < 4; ++i) {
    // Request i went out only after reply i-1 arrived, and a gap later.
    CHECK(peer.seen()[i].at >= done_at[i - 1] + 45ms);
    CHECK(peer.seen()[i].req.address == i);
  }
}

TEST_CASE("Transport: close() fails the queued requests with connection_lost") {
  boost::asio::io_context io;
  FakePeer peer(io, false, [&](const SeenRequest& s, int) { return std::vector<PeerAction>{{peer.answer(s), 100ms}}; });
  Bus bus(io, spec_for(peer, Kind::tcp, 1000ms));
  std::vector<Failure::Kind> kinds;
  for (int i = 0; i < 3; ++i)
    bus.submit(Request::read_holding(1, 0, 1), [&](Outcome<Response> o) {
      kinds.push_back(o.ok() ? Failure::Kind::timeout : o.failure().kind);
    });
  io.run_for(20ms);
  bus.close();
  io.run_for(200ms);
  REQUIRE(kinds.size() == 3);
  for (auto k : kinds) CHECK(k == Failure::Kind::connection_lost);
}

TEST_CASE("Transport: the synchronous client reads and writes") {
  boost::asio::io_context peer_io;
  FakePeer peer(peer_io, false, [&](const SeenRequest& s, int) { return std::vector<PeerAction>{{peer.answer(s, 5)}}; });
  std::thread t([&] { peer_io.run_for(3s); });
  {
    Client client(spec_for(peer, Kind::tcp));
    auto words = client.read_input(2, 1, 2);
    REQUIRE(words.ok());
    CHECK(*words == std::vector<std::uint16_t>{6, 7});
    auto coils = client.read_coils(2, 0, 3);
    REQUIRE(coils.ok());
    CHECK(*coils == std::vector<bool>{true, false, true});
    CHECK(client.write_coil(2, 7, true).ok());
    CHECK(client.write_register(2, 7, 99).ok());
  }
  peer_io.stop();
  t.join();
  REQUIRE(peer.seen().size() == 4);
  CHECK(peer.seen()[3].req.values == std::vector<std::uint16_t>{99});
}
