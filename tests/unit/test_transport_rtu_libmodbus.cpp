// RtuLibmodbusBus, libmodbus's RTU backend on a worker thread, against a small RTU device on a
// pty of its own (the kernel's pty pair, as socat makes one; no process needed). A pty has no
// modem-control lines, so RTS is either left alone (Rts::none: the requests' whole path through
// libmodbus), given to a recording RtsLine (what libmodbus does with RTS, and when), or the real
// ioctl, which a pty refuses (the error a gateway gets).

#include <kwh/transport/client.hpp>
#include <kwh/transport/frame.hpp>
#include <kwh/transport/rtu_libmodbus.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <optional>
#include <poll.h>
#include <stdlib.h>
#include <thread>
#include <unistd.h>

using namespace kwh::transport;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// An RTU device on the master side of a pty; the bus opens the other side, path(). Unit 1
// holds 1000 + address in its first 100 holding and input registers (exception 2 beyond) and
// address % 2 in its coils, and keeps what is written; unit 5 answers with a bad CRC; unit 7
// answers its first request 350 ms late, with 7777s; unit 9 is not there.
class PtyDevice {
public:
  struct Seen {
    Request req;
    Clock::time_point at;
  };

  PtyDevice() {
    m_master = ::posix_openpt(O_RDWR | O_NOCTTY);
    REQUIRE(m_master >= 0);
    REQUIRE(::grantpt(m_master) == 0);
    REQUIRE(::unlockpt(m_master) == 0);
    m_path = ::ptsname(m_master);
    m_thread = std::thread([this] { run(); });
  }

  ~PtyDevice() {
    m_stop = true;
    m_thread.join();
    ::close(m_master);
  }

  const std::string& path() const { return m_path; }

  std::vector<Seen> seen() const {
    std::lock_guard lk(m_mutex);
    return m_seen;
  }

private:
  void run() {
    std::vector<std::uint8_t> buf;
    std::uint8_t chunk[256];
    while (!m_stop) {
      pollfd p{m_master, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const auto n = (p.revents & POLLIN) ? ::read(m_master, chunk, sizeof chunk) : -1;
      if (n <= 0) { // no one has the other side open
        std::this_thread::sleep_for(10ms);
        continue;
      }
      buf.insert(buf.end(), chunk, chunk + n);
      while (true) {
        FrameScan s = scan_rtu_request(buf);
        if (s.status == FrameScan::Status::incomplete) break;
        if (s.status == FrameScan::Status::invalid) {
          buf.clear();
          break;
        }
        std::vector<std::uint8_t> frame(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(s.size));
        buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(s.size));
        handle(frame);
      }
    }
  }

  void handle(const std::vector<std::uint8_t>& frame) {
    const std::uint8_t unit = frame[0];
    std::span<const std::uint8_t> pdu(frame.data() + 1, frame.size() - 3);
    auto decoded = decode_request_pdu(unit, pdu);
    if (!decoded.ok()) return;
    const Request& req = *decoded;
    {
      std::lock_guard lk(m_mutex);
      m_seen.push_back({req, Clock::now()});
    }
    if (unit == 9) return;
    std::optional<std::uint16_t> fill;
    if (unit == 7 && m_late_done++ == 0) {
      std::this_thread::sleep_for(350ms);
      fill = 7777;
    }
    std::vector<std::uint8_t> reply;
    if (is_read(req.function) && req.address + req.count > 100) {
      reply = encode_exception_pdu(req.function, 2);
    } else {
      Response r;
      if (!is_read(req.function)) {
        for (std::size_t i = 0; i < req.values.size(); ++i) m_written[req.address + i] = req.values[i];
      } else {
        for (std::uint16_t i = 0; i < req.count; ++i) {
          const unsigned a = req.address + i;
          auto w = m_written.find(a);
          r.words.push_back(fill ? *fill : w != m_written.end() ? w->second : static_cast<std::uint16_t>(1000 + a));
          r.bits.push_back(w != m_written.end() ? w->second != 0 : a % 2 == 1);
        }
      }
      reply = encode_response_pdu(req, r);
    }
    auto bytes = wrap_rtu(unit, reply);
    if (unit == 5) bytes.back() ^= 0xFF;
    [[maybe_unused]] auto w = ::write(m_master, bytes.data(), bytes.size());
  }

  int m_master = -1;
  std::string m_path;
  std::atomic<bool> m_stop{false};
  mutable std::mutex m_mutex;
  std::vector<Seen> m_seen;
  std::map<unsigned, std::uint16_t> m_written;
  int m_late_done = 0;
  std::thread m_thread;
};

GatewaySpec serial_spec(const std::string& device, std::chrono::milliseconds timeout = 200ms) {
  GatewaySpec g;
  g.name = "rts";
  g.kind = Kind::rtu_serial;
  g.address = device;
  g.baud = 19200;
  g.timeout = timeout;
  return g;
}

// Submits and runs the io_context until the request completes.
Outcome<Response> call(boost::asio::io_context& io, BusBase& bus, Request req) {
  std::optional<Outcome<Response>> out;
  bus.submit(std::move(req), [&](Outcome<Response> o) { out.emplace(std::move(o)); });
  io.restart();
  auto end = Clock::now() + 5s;
  while (!out && Clock::now() < end) io.run_one_for(100ms);
  REQUIRE(out.has_value());
  return std::move(*out);
}

Failure::Kind kind_of(const Outcome<Response>& o) {
  REQUIRE(!o.ok());
  return o.failure().kind;
}

// Records what libmodbus does with RTS, and when; succeeds like a real line.
struct RtsRecorder {
  struct Event {
    bool raised;
    Clock::time_point at;
  };
  std::shared_ptr<std::vector<Event>> events = std::make_shared<std::vector<Event>>();
  std::shared_ptr<std::mutex> mutex = std::make_shared<std::mutex>();

  RtuLibmodbusBus::RtsLine line() const {
    return [events = events, mutex = mutex](int, bool raised) {
      std::lock_guard lk(*mutex);
      events->push_back({raised, Clock::now()});
      return true;
    };
  }
  std::vector<Event> get() const {
    std::lock_guard lk(*mutex);
    return *events;
  }
};

} // namespace

TEST_CASE("RtuLibmodbusBus: reads and writes registers and bits through libmodbus on a pty") {
  PtyDevice device;
  boost::asio::io_context io;
  RtuLibmodbusBus bus(io, serial_spec(device.path()));

  auto r = call(io, bus, Request::read_holding(1, 0x10, 3));
  REQUIRE(r.ok());
  CHECK(r->words == std::vector<std::uint16_t>{1016, 1017, 1018});
  auto in = call(io, bus, Request::read_input(1, 5, 2));
  REQUIRE(in.ok());
  CHECK(in->words == std::vector<std::uint16_t>{1005, 1006});
  auto coils = call(io, bus, Request::read_coils(1, 0, 4));
  REQUIRE(coils.ok());
  CHECK(coils->bits == std::vector<bool>{false, true, false, true});
  auto discrete = call(io, bus, Request::read_discrete(1, 1, 1));
  REQUIRE(discrete.ok());
  CHECK(discrete->bits == std::vector<bool>{true});

  CHECK(call(io, bus, Request::write_registers(1, 0x57, {1, 1})).ok());
  CHECK(call(io, bus, Request::write_register(1, 0x59, 42)).ok());
  CHECK(call(io, bus, Request::write_coil(1, 2, true)).ok());
  auto back = call(io, bus, Request::read_holding(1, 0x57, 3));
  REQUIRE(back.ok());
  CHECK(back->words == std::vector<std::uint16_t>{1, 1, 42});

  auto seen = device.seen();
  REQUIRE(seen.size() == 8);
  CHECK(seen[4].req.function == Function::write_multiple_registers);
  CHECK(seen[4].req.values == std::vector<std::uint16_t>{1, 1});
  CHECK(seen[6].req.function == Function::write_single_coil);
  auto st = bus.status();
  CHECK(st.connected);
  CHECK(st.requests == 8);
  CHECK(st.failures == 0);
}

TEST_CASE("RtuLibmodbusBus: an exception reply is Failure::exception with its code") {
  PtyDevice device;
  boost::asio::io_context io;
  RtuLibmodbusBus bus(io, serial_spec(device.path()));
  auto o = call(io, bus, Request::read_holding(1, 99, 2));
  REQUIRE(kind_of(o) == Failure::Kind::exception);
  CHECK(o.failure().exception_code == 2);
  CHECK(call(io, bus, Request::read_holding(1, 98, 2)).ok()); // the line is fine afterwards
}

TEST_CASE("RtuLibmodbusBus: a unit that is not there times out within the response timeout") {
  PtyDevice device;
  boost::asio::io_context io;
  RtuLibmodbusBus bus(io, serial_spec(device.path(), 200ms));
  CHECK(call(io, bus, Request::read_holding(1, 0, 1)).ok()); // the port is open
  auto t0 = Clock::now();
  auto o = call(io, bus, Request::read_holding(9, 0, 1));
  auto took = Clock::now() - t0;
  REQUIRE(kind_of(o) == Failure::Kind::timeout);
  CHECK(o.failure().message == "200 ms without a reply");
  CHECK(took >= 190ms);
  CHECK(took < 400ms);
  auto next = call(io, bus, Request::read_holding(1, 3, 1));
  REQUIRE(next.ok());
  CHECK(next->words == std::vector<std::uint16_t>{1003});
  CHECK(bus.status().timeouts == 1);
}

TEST_CASE("RtuLibmodbusBus: a reply with a bad CRC is a bad frame, and the line recovers") {
  PtyDevice device;
  boost::asio::io_context io;
  RtuLibmodbusBus bus(io, serial_spec(device.path()));
  auto o = call(io, bus, Request::read_holding(5, 0, 2));
  REQUIRE(kind_of(o) == Failure::Kind::bad_frame);
  CHECK(o.failure().message == "libmodbus: Invalid CRC");
  CHECK(o.failure().exit_code() == kwh::Exit::failed);
  auto next = call(io, bus, Request::read_holding(1, 0, 2));
  REQUIRE(next.ok());
  CHECK(next->words == std::vector<std::uint16_t>{1000, 1001});
}

TEST_CASE("RtuLibmodbusBus: a late reply is dropped, never taken for the next request's") {
  PtyDevice device;
  boost::asio::io_context io;
  RtuLibmodbusBus bus(io, serial_spec(device.path(), 200ms));
  CHECK(kind_of(call(io, bus, Request::read_holding(7, 0, 1))) == Failure::Kind::timeout);
  // The same request again: the 7777 that comes 350 ms after the first would pass every check.
  auto again = call(io, bus, Request::read_holding(7, 0, 1));
  REQUIRE(again.ok());
  CHECK(again->words == std::vector<std::uint16_t>{1000});
  CHECK(bus.status().stale_frames_dropped >= 1);
}

TEST_CASE("RtuLibmodbusBus: queued requests go out one at a time, in order, with the gap") {
  PtyDevice device;
  boost::asio::io_context io;
  auto spec = serial_spec(device.path());
  spec.gap = 30ms;
  RtuLibmodbusBus bus(io, spec);
  std::vector<std::pair<int, Outcome<Response>>> done;
  for (int i = 0; i < 5; ++i)
    bus.submit(Request::read_holding(1, static_cast<std::uint16_t>(10 * i), 1),
               [&done, i](Outcome<Response> o) { done.emplace_back(i, std::move(o)); });
  CHECK(bus.status().queued >= 4);
  auto end = Clock::now() + 5s;
  while (done.size() < 5 && Clock::now() < end) io.run_one_for(100ms);
  REQUIRE(done.size() == 5);
  for (std::size_t i = 0; i < 5; ++i) {
    CAPTURE(i);
    CHECK(done[i].first == static_cast<int>(i));
    REQUIRE(done[i].second.ok());
    CHECK(done[i].second->words == std::vector<std::uint16_t>{static_cast<std::uint16_t>(1000 + 10 * i)});
  }
  auto seen = device.seen();
  REQUIRE(seen.size() == 5);
  for (std::size_t i = 0; i < 5; ++i) CHECK(seen[i].req.address == 10 * i);
  for (std::size_t i = 1; i < 5; ++i) CHECK(seen[i].at - seen[i - 1].at >= 30ms);
}

TEST_CASE("RtuLibmodbusBus: close fails what is queued at once and the next request opens the port again") {
  PtyDevice device;
  boost::asio::io_context io;
  RtuLibmodbusBus bus(io, serial_spec(device.path(), 300ms));
  CHECK(call(io, bus, Request::read_holding(1, 0, 1)).ok());
  std::vector<Outcome<Response>> done;
  auto keep = [&done](Outcome<Response> o) { done.push_back(std::move(o)); };
  bus.submit(Request::read_holding(9, 0, 1), keep); // silent: on the line for 300 ms
  bus.submit(Request::read_holding(1, 1, 1), keep);
  bus.submit(Request::read_holding(1, 2, 1), keep);
  std::this_thread::sleep_for(50ms);
  auto t0 = Clock::now();
  bus.close();
  CHECK(Clock::now() - t0 < 100ms); // close never waits for the line (300 ms)
  REQUIRE(done.size() == 2);       // the queued ones, at once
  for (auto& o : done) CHECK(kind_of(o) == Failure::Kind::connection_lost);
  io.restart();
  auto end = Clock::now() + 2s;
  while (done.size() < 3 && Clock::now() < end) io.run_one_for(50ms);
  REQUIRE(done.size() == 3); // the one on the line, by its timeout
  CHECK(kind_of(done[2]) == Failure::Kind::connection_lost);
  CHECK(Clock::now() - t0 < 400ms);

  auto again = call(io, bus, Request::read_holding(1, 4, 1));
  REQUIRE(again.ok());
  CHECK(again->words == std::vector<std::uint16_t>{1004});
  CHECK(bus.status().reconnects == 1);
}

TEST_CASE("RtuLibmodbusBus: destruction completes everything exactly once and joins within the timeout") {
  PtyDevice device;
  boost::asio::io_context io;
  std::vector<int> calls(3, 0);
  std::vector<Failure::Kind> kinds(3, Failure::Kind::timeout);
  auto t0 = Clock::now();
  {
    RtuLibmodbusBus bus(io, serial_spec(device.path(), 300ms));
    for (int i = 0; i < 3; ++i)
      bus.submit(Request::read_holding(9, static_cast<std::uint16_t>(i), 1), [&calls, &kinds, i](Outcome<Response> o) {
        ++calls[static_cast<std::size_t>(i)];
        kinds[static_cast<std::size_t>(i)] = o.ok() ? Failure::Kind::timeout : o.failure().kind;
      });
    std::this_thread::sleep_for(50ms);
    t0 = Clock::now();
  }
  CHECK(Clock::now() - t0 < 400ms);
  io.restart();
  io.poll();
  CHECK(calls == std::vector<int>{1, 1, 1});
  CHECK(kinds == std::vector<Failure::Kind>(3, Failure::Kind::connection_lost));
}

TEST_CASE("RtuLibmodbusBus: with --rts, libmodbus raises RTS (up) or lowers it (down) while it sends") {
  for (Rts rts : {Rts::up, Rts::down}) {
    const bool up = rts == Rts::up;
    CAPTURE(up);
    PtyDevice device;
    boost::asio::io_context io;
    auto spec = serial_spec(device.path());
    spec.rts = rts;
    spec.rts_delay = 20ms;
    RtsRecorder rec;
    RtuLibmodbusBus bus(io, spec, rec.line());
    auto sent = Clock::now();
    auto r = call(io, bus, Request::read_holding(1, 0, 2));
    REQUIRE(r.ok());
    CHECK(r->words == std::vector<std::uint16_t>{1000, 1001});
    auto events = rec.get();
    // Idle level when the port opens, then the sending level around the request.
    REQUIRE(events.size() == 3);
    CHECK(events[0].raised == !up);
    CHECK(events[1].raised == up);
    CHECK(events[2].raised == !up);
    auto seen = device.seen();
    REQUIRE(seen.size() == 1);
    CHECK(events[1].at >= sent);
    CHECK(seen[0].at - events[1].at >= 20ms); // the delay before sending
    CHECK(events[2].at - events[1].at >= 40ms); // before and after
  }
}

TEST_CASE("RtuLibmodbusBus: a port whose RTS cannot be driven is refused, naming the device and the reason") {
  PtyDevice device;
  boost::asio::io_context io;
  auto spec = serial_spec(device.path());
  spec.rts = Rts::up;
  SUBCASE("the modem-control ioctl, which a pty does not have") {
    RtuLibmodbusBus bus(io, spec);
    auto o = call(io, bus, Request::read_holding(1, 0, 1));
    REQUIRE(kind_of(o) == Failure::Kind::connection_refused);
    CHECK(o.failure().message == device.path() + ": cannot drive RTS for RS-485 direction (--rts): "
                                                 "the port has no RTS line (Inappropriate ioctl for device)");
    CHECK_FALSE(bus.status().connected);
    CHECK(bus.status().consecutive_connect_failures == 1);
    CHECK(device.seen().empty()); // nothing was sent
  }
  SUBCASE("an RTS line that fails") {
    RtuLibmodbusBus bus(io, spec, [](int, bool) {
      errno = EIO;
      return false;
    });
    auto o = call(io, bus, Request::read_holding(1, 0, 1));
    REQUIRE(kind_of(o) == Failure::Kind::connection_refused);
    CHECK(o.failure().message.find(device.path()) == 0);
    CHECK(o.failure().message.find("Input/output error") != std::string::npos);
  }
}

TEST_CASE("RtuLibmodbusBus: a device that cannot be opened is refused") {
  boost::asio::io_context io;
  RtuLibmodbusBus bus(io, serial_spec("/nonexistent/ttyUSB9"));
  auto o = call(io, bus, Request::read_holding(1, 0, 1));
  REQUIRE(kind_of(o) == Failure::Kind::connection_refused);
  CHECK(o.failure().message == "/nonexistent/ttyUSB9: No such file or directory");
  CHECK(o.failure().exit_code() == kwh::Exit::unavailable);
}

TEST_CASE("RtuLibmodbusBus: a speed libmodbus cannot set is refused rather than run at 9600 baud") {
  PtyDevice device;
  boost::asio::io_context io;
  auto spec = serial_spec(device.path());
  spec.baud = 14400;
  RtuLibmodbusBus bus(io, spec);
  auto o = call(io, bus, Request::read_holding(1, 0, 1));
  REQUIRE(kind_of(o) == Failure::Kind::connection_refused);
  CHECK(o.failure().message == device.path() + ": libmodbus cannot set 14400 baud");
}

TEST_CASE("RtuLibmodbusBus: make_bus picks libmodbus for Modbus RTU on a serial port with RTS only") {
  GatewaySpec s = serial_spec("/dev/null");
  CHECK_FALSE(uses_libmodbus(s));
  s.rts = Rts::down;
  CHECK(uses_libmodbus(s));
  s.protocol = Protocol::dlt645;
  CHECK_FALSE(uses_libmodbus(s));
  s.protocol = Protocol::modbus;
  s.kind = Kind::rtu_over_tcp;
  CHECK_FALSE(uses_libmodbus(s));

  boost::asio::io_context io;
  s.kind = Kind::rtu_serial;
  CHECK(dynamic_cast<RtuLibmodbusBus*>(make_bus(io, s).get()) != nullptr);
  s.rts = Rts::none;
  CHECK(dynamic_cast<Bus*>(make_bus(io, s).get()) != nullptr);
}

TEST_CASE("RtuLibmodbusBus: the Client goes through libmodbus for a gateway with --rts") {
  PtyDevice device;
  auto spec = serial_spec(device.path());
  spec.rts = Rts::up;
  Client client(spec);
  auto o = client.read_holding(1, 0, 1);
  REQUIRE(!o.ok());
  CHECK(o.failure().kind == Failure::Kind::connection_refused);
  CHECK(o.failure().message.find("cannot drive RTS") != std::string::npos);
}
