#include <kwh/dlt645/frame.hpp>
#include <kwh/sim/dlt645_server.hpp>
#include <kwh/sim/server.hpp>
#include <kwh/transport/frame.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <deque>
#include <list>
#include <optional>
#include <random>

namespace kwh::sim {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using Bytes = std::vector<std::uint8_t>;
using transport::Protocol;

void check(const Options& o) {
  const bool dlt645 = o.protocol == Protocol::dlt645;
  if (dlt645 && o.rtu_over_tcp)
    fail(Exit::usage, "--rtu-over-tcp is for Modbus; DL/T 645 frames go on the TCP ports as they are");
  if (dlt645 && o.profile.protocol != "dlt645")
    fail(Exit::usage, "profile {} is a Modbus profile; --protocol dlt645 serves a DL/T 645 one (such as acrel-dtsy1352-dlt645)",
         o.profile.name);
  if (!dlt645 && o.profile.protocol == "dlt645")
    fail(Exit::usage, "profile {} is a DL/T 645 profile: serve it with --protocol dlt645", o.profile.name);
  if (o.meters < 1) fail(Exit::usage, "--meters must be at least 1");
  if (o.gateways < 1 || o.gateways > o.meters) fail(Exit::usage, "--gateways must be 1..{} (the number of meters)", o.meters);
  int per = (o.meters + o.gateways - 1) / o.gateways;
  if (!dlt645 && per * o.profile.units > 247)
    fail(Exit::usage, "{} meters on {} gateway(s) is {} units per gateway, above Modbus's 247; add --gateways",
         o.meters, o.gateways, per * o.profile.units);
  if (!(o.speed > 0) || o.speed > 1e6) fail(Exit::usage, "--speed must be above 0 (and at most 1000000)");
  if (!(o.load_w >= 0) || o.load_w > 1e7) fail(Exit::usage, "--load-w must be 0..10000000");
  if (o.gateways > 1 && std::uint32_t(o.port) + std::uint32_t(o.gateways) > 65536)
    fail(Exit::usage, "--listen port {} leaves no room for {} gateways", o.port, o.gateways);
  for (const auto& s : o.faults.switches)
    if (s.meter > o.meters)
      fail(Exit::usage, "--faults: {}={}: there are only {} meters", s.closed ? "button" : "trip", s.meter, o.meters);
}

class Server::Impl : public std::enable_shared_from_this<Server::Impl> {
public:
  Impl(asio::io_context& io, Options o)
      : m_io(io), m_options(std::move(o)),
        m_fleet(m_options.profile, m_options.meters, m_options.load_w, m_options.speed, kwh::now(), Fleet::Clock::now()),
        m_per((m_options.meters + m_options.gateways - 1) / m_options.gateways), m_rng(m_options.seed) {
    m_fleet.set_clock_drift(m_options.clock_drift);
    for (const auto& s : m_options.faults.switches)
      m_fleet.schedule_switch(s.meter - 1, m_started + s.after, s.closed);
    bind();
  }

  void start() {
    for (std::size_t g = 0; g < m_acceptors.size(); ++g) accept(static_cast<int>(g));
  }

  void stop() {
    error_code ignored;
    for (auto& a : m_acceptors) a.close(ignored);
    for (auto& w : m_conns)
      if (auto c = w.lock()) c->socket.close(ignored);
    m_conns.clear();
  }

  std::string banner() const {
    const auto& o = m_options;
    std::string ports = std::to_string(m_ports.front());
    if (m_ports.size() > 1) ports += "-" + std::to_string(m_ports.back());
    const bool dlt645 = o.protocol == Protocol::dlt645;
    std::string line = fmt::format("kwh sim: {} meter{} on {}:{} ({}{}, speed {}", o.meters, o.meters == 1 ? "" : "s",
                                   o.host, ports, o.profile.name, dlt645 ? ", dlt645" : "", o.speed);
    const int units = dlt645 ? 1 : o.profile.units;
    if (o.gateways > 1) line += fmt::format(", {} {} per gateway", m_per, dlt645 || units > 1 ? "meters" : "units");
    if (units > 1)
      line += m_per > 2 ? fmt::format(", units 1, {}, {}, ...", 1 + units, 1 + 2 * units)
                        : m_per == 2 ? fmt::format(", units 1, {}", 1 + units) : std::string(", unit 1");
    if (o.rtu_over_tcp) line += ", rtu-over-tcp";
    if (o.faults.any()) line += ", faults " + o.faults.describe();
    return line + ")";
  }

  const std::vector<std::uint16_t>& ports() const { return m_ports; }
  Fleet& fleet() { return m_fleet; }
  const FaultCounts& counts() const { return m_counts; }
  void set_silent(bool silent) { m_silent = silent; }
  bool silent() const { return m_silent; }

private:
  struct Conn {
    explicit Conn(asio::io_context& io) : socket(io) {}
    tcp::socket socket;
    int gateway = 0;
    Bytes rx;
    std::array<std::uint8_t, 1024> chunk{};
    std::deque<Bytes> out;
  };

  // Binds K consecutive ports; with port 0, K consecutive free ones (retrying from another
  // ephemeral port when one of the run is taken).
  void bind() {
    auto address = asio::ip::make_address(m_options.host);
    for (int attempt = 0; attempt < 50; ++attempt) {
      m_acceptors.clear();
      m_ports.clear();
      std::uint16_t first = m_options.port;
      bool ok = true;
      for (int g = 0; g < m_options.gateways && ok; ++g) {
        tcp::acceptor a(m_io);
        error_code ec;
        a.open(address.is_v6() ? tcp::v6() : tcp::v4(), ec);
        if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
        std::uint16_t want = (g == 0) ? first : static_cast<std::uint16_t>(m_ports.front() + g);
        if (!ec) a.bind(tcp::endpoint(address, want), ec);
        if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
          if (m_options.port != 0 || g == 0)
            fail(Exit::unavailable, "cannot listen on {}:{}: {}", m_options.host, want, ec.message());
          ok = false;
          break;
        }
        m_ports.push_back(a.local_endpoint().port());
        m_acceptors.push_back(std::move(a));
      }
      if (ok) return;
    }
    fail(Exit::unavailable, "cannot find {} consecutive free ports on {}", m_options.gateways, m_options.host);
  }

  void accept(int g) {
    auto c = std::make_shared<Conn>(m_io);
    c->gateway = g;
    m_acceptors[static_cast<std::size_t>(g)].async_accept(c->socket, [self = shared_from_this(), c, g](error_code ec) {
      if (ec == asio::error::operation_aborted || !self->m_acceptors[static_cast<std::size_t>(g)].is_open()) return;
      if (!ec) {
        error_code ignored;
        c->socket.set_option(tcp::no_delay(true), ignored);
        self->m_conns.remove_if([](const std::weak_ptr<Conn>& w) { return w.expired(); });
        self->m_conns.push_back(c);
        self->read(c);
      }
      self->accept(g);
    });
  }

  void read(std::shared_ptr<Conn> c) {
    c->socket.async_read_some(asio::buffer(c->chunk), [self = shared_from_this(), c](error_code ec, std::size_t n) {
      if (ec) return;
      c->rx.insert(c->rx.end(), c->chunk.begin(), c->chunk.begin() + static_cast<std::ptrdiff_t>(n));
      if (!self->drain_requests(c)) {
        error_code ignored;
        c->socket.close(ignored);
        return;
      }
      self->read(c);
    });
  }

  // Answers every whole request in c->rx; false when the stream cannot be framed (TCP).
  bool drain_requests(const std::shared_ptr<Conn>& c) {
    if (m_options.protocol == Protocol::dlt645) {
      drain_dlt645(c);
      return true;
    }
    while (true) {
      auto s = m_options.rtu_over_tcp ? transport::scan_rtu_request(c->rx) : transport::scan_tcp_frame(c->rx);
      if (s.status == transport::FrameScan::Status::incomplete) return true;
      if (s.status == transport::FrameScan::Status::invalid) {
        if (!m_options.rtu_over_tcp) return false;
        c->rx.clear(); // line noise: a real device waits for silence and starts again
        return true;
      }
      Bytes pdu(s.pdu.begin(), s.pdu.end());
      auto unit = s.unit;
      auto tid = s.transaction;
      c->rx.erase(c->rx.begin(), c->rx.begin() + static_cast<std::ptrdiff_t>(s.size));
      respond(c, tid, unit, pdu);
    }
  }

  // DL/T 645 on a transparent serial server: the bytes are the bus. A bad frame is skipped as a
  // meter skips it (no reply), from the 0x68 after the one that did not start a frame.
  void drain_dlt645(const std::shared_ptr<Conn>& c) {
    while (true) {
      auto s = dlt645::scan_frame(c->rx);
      if (s.status == dlt645::FrameScan::Status::incomplete) {
        // Bytes before the first 0x68 never start a frame: keep the buffer to one frame's length.
        auto start = std::find(c->rx.begin(), c->rx.end(), std::uint8_t{0x68});
        c->rx.erase(c->rx.begin(), start);
        return;
      }
      c->rx.erase(c->rx.begin(), c->rx.begin() + static_cast<std::ptrdiff_t>(s.size));
      if (s.status == dlt645::FrameScan::Status::complete) respond_dlt645(c, s.frame);
    }
  }

  void respond_dlt645(const std::shared_ptr<Conn>& c, const dlt645::Frame& req) {
    if (req.address == dlt645::Address::broadcast() && req.control.function() == dlt645::Function::broadcast_time &&
        !req.control.from_meter()) {
      dlt645_broadcast_time(m_fleet, c->gateway * m_per, meters_on(c->gateway), req, Fleet::Clock::now());
      return;
    }
    // Another address, a broadcast, a reply on the bus: not for a meter of this gateway.
    auto index = dlt645_addressee(req, c->gateway * m_per, meters_on(c->gateway));
    if (!index || req.control.from_meter()) return;
    auto now = Fleet::Clock::now();
    if (!answers(c->gateway, *index, now)) return;
    std::optional<dlt645::Frame> reply;
    if (req.control.function() != dlt645::Function::broadcast_time && chance(m_options.faults.exception)) {
      ++m_counts.exceptions;
      reply = dlt645::error_reply(dlt645_address(*index), req.control.function(), dlt645::k_error_other);
    } else {
      reply = dlt645_answer(m_fleet, *index, req, m_options.password, now);
    }
    if (reply) deliver(c, dlt645::encode_frame(*reply));
  }

  bool chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(m_rng) < p; }

  int meters_on(int gateway) const { return std::min(m_per, m_options.meters - gateway * m_per); }

  // Whether meter `index` (on `gateway`) answers a request at all: counts the request, then the
  // silent gateway, the flapping meter and drop keep it quiet; a reset may happen first.
  bool answers(int gateway, int index, Fleet::Clock::time_point now) {
    const Faults& f = m_options.faults;
    ++m_counts.requests;
    if (m_silent || f.silent_gateway == gateway + 1 || offline(index, now)) {
      ++m_counts.silent;
      return false;
    }
    if (chance(f.drop)) {
      ++m_counts.dropped;
      return false;
    }
    if (chance(f.reset)) {
      ++m_counts.resets;
      m_fleet.reset(index, now);
    }
    return true;
  }

  void respond(const std::shared_ptr<Conn>& c, std::uint16_t tid, std::uint8_t unit, const Bytes& pdu) {
    const Faults& f = m_options.faults;
    if (unit == 0) return;
    auto now = Fleet::Clock::now();
    std::optional<Bytes> reply;
    const int units = m_options.profile.units;
    const int slot = (unit - 1) / units; // the meter's place on its gateway, when unit is its first
    if ((unit - 1) % units != 0 || slot >= meters_on(c->gateway)) {
      if (m_silent || f.silent_gateway == c->gateway + 1) return;
      if (!m_options.rtu_over_tcp) reply = transport::encode_exception_pdu(pdu.empty() ? 0 : pdu[0], 11);
    } else {
      int index = c->gateway * m_per + slot;
      if (!answers(c->gateway, index, now)) return;
      auto req = transport::decode_request_pdu(unit, pdu);
      if (!req.ok()) {
        reply = transport::encode_exception_pdu(pdu.empty() ? 0 : pdu[0], req.failure().exception_code);
      } else if (chance(f.exception)) {
        ++m_counts.exceptions;
        reply = transport::encode_exception_pdu(req->function, 4);
      } else {
        auto out = m_fleet.handle(index, *req, now);
        reply = out.ok() ? transport::encode_response_pdu(*req, *out)
                         : transport::encode_exception_pdu(req->function, out.failure().exception_code);
      }
    }
    if (!reply) return;
    deliver(c, m_options.rtu_over_tcp ? transport::wrap_rtu(unit, *reply) : transport::wrap_tcp(tid, unit, *reply));
  }

  // Sends a reply with the faults of the way back: garbage instead of it, a delay, lateness.
  void deliver(const std::shared_ptr<Conn>& c, Bytes frame) {
    const Faults& f = m_options.faults;
    if (chance(f.garbage)) {
      ++m_counts.garbage;
      frame.resize(1 + std::uniform_int_distribution<std::size_t>(0, 15)(m_rng));
      for (auto& b : frame) b = static_cast<std::uint8_t>(std::uniform_int_distribution<int>(0, 255)(m_rng));
    }
    const bool late = chance(f.late);
    if (late) ++m_counts.late;
    auto delay = f.delay + (late ? f.late_by : std::chrono::milliseconds(0));
    if (delay.count() == 0) return send(c, std::move(frame));
    auto timer = std::make_shared<asio::steady_timer>(m_io, delay);
    timer->async_wait([self = shared_from_this(), c, timer, frame = std::move(frame)](error_code ec) mutable {
      if (!ec) self->send(c, std::move(frame));
    });
  }

  // The flapping meter is online for one period, then offline for one, by the wall clock.
  bool offline(int index, Fleet::Clock::time_point now) const {
    const Faults& f = m_options.faults;
    if (f.flap_meter != index + 1 || f.flap_period.count() <= 0) return false;
    auto periods = std::chrono::duration_cast<std::chrono::milliseconds>(now - m_started).count() / f.flap_period.count();
    return periods % 2 == 1;
  }

  void send(const std::shared_ptr<Conn>& c, Bytes frame) {
    if (!c->socket.is_open()) return;
    c->out.push_back(std::move(frame));
    if (c->out.size() == 1) write_next(c);
  }

  void write_next(std::shared_ptr<Conn> c) {
    asio::async_write(c->socket, asio::buffer(c->out.front()), [self = shared_from_this(), c](error_code ec, std::size_t) {
      if (ec) {
        c->out.clear();
        return;
      }
      c->out.pop_front();
      if (!c->out.empty()) self->write_next(c);
    });
  }

  asio::io_context& m_io;
  Options m_options;
  Fleet m_fleet;
  int m_per;
  std::mt19937 m_rng;
  Fleet::Clock::time_point m_started = Fleet::Clock::now();
  FaultCounts m_counts;
  bool m_silent = false;
  std::vector<tcp::acceptor> m_acceptors;
  std::vector<std::uint16_t> m_ports;
  std::list<std::weak_ptr<Conn>> m_conns;
};

Server::Server(asio::io_context& io, Options options) {
  check(options);
  m_impl = std::make_shared<Impl>(io, std::move(options));
  m_impl->start();
}

Server::~Server() { m_impl->stop(); }

const std::vector<std::uint16_t>& Server::ports() const { return m_impl->ports(); }
std::string Server::banner() const { return m_impl->banner(); }
Fleet& Server::fleet() { return m_impl->fleet(); }
const FaultCounts& Server::counts() const { return m_impl->counts(); }

std::string Server::summary() const {
  const FaultCounts& c = counts();
  std::string out = fmt::format("kwh sim: {} requests", c.requests);
  std::vector<std::string> parts;
  auto add = [&](std::uint64_t n, const char* what) {
    if (n > 0) parts.push_back(fmt::format("{} {}", n, what));
  };
  add(c.dropped, "dropped");
  add(c.silent, "unanswered (silent gateway, flapping meter, or silenced by SIGUSR1)");
  add(c.late, "late");
  add(c.exceptions, "exception replies");
  add(c.garbage, "garbage replies");
  add(c.resets, "counter resets");
  if (!parts.empty()) out += "; faults: " + fmt::format("{}", fmt::join(parts, ", "));
  return out;
}
void Server::stop() { m_impl->stop(); }
void Server::set_silent(bool silent) { m_impl->set_silent(silent); }
bool Server::silent() const { return m_impl->silent(); }

} // namespace kwh::sim
