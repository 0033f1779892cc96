#include <kwh/transport/bus.hpp>
#include <kwh/transport/link.hpp>
#include <kwh/dlt645/frame.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <deque>
#include <optional>

namespace kwh::transport {

namespace asio = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Gateways close connections that were idle for a while. A connection idle for this long is
// checked for that before it carries a request, so that the request goes on a new connection
// instead of failing; one in use back to back is not (the check is a system call a request).
constexpr auto k_idle_probe = std::chrono::milliseconds(50);

// Each step of a request has exactly one operation in flight on the link, and its completion
// handler moves the request on. The deadline never finishes a request itself: it records why
// the request must stop (m_stop) and cancels the link, and the aborted operation's handler
// finishes it. So a request finishes exactly once, and no link operation outlives its request.
//
// The deadline is lazy: arming and disarming only set m_deadline. The timer underneath is
// started when none is pending or the pending one is due after the new deadline; when it
// fires early (the deadline moved on since), it waits again for the deadline in force. So a
// bus busy with back-to-back requests touches its timer about once per response timeout,
// not twice per request.
class Bus::Impl : public std::enable_shared_from_this<Bus::Impl> {
public:
  Impl(asio::io_context& io, GatewaySpec spec)
      : m_spec(std::move(spec)), m_link(make_link(io, m_spec)), m_timer(io), m_gap_timer(io),
        m_executor(io.get_executor()) {}

  void submit(Request req, Handler done) {
    if (m_shut) {
      asio::post(m_executor, [done = std::move(done)] { done(Failure::lost("bus closed")); });
      return;
    }
    m_queue.push_back({std::move(req), std::move(done)});
    if (!m_busy) asio::post(m_executor, [self = shared_from_this()] { self->start_next(); });
  }

  void close(bool shut) {
    m_shut = m_shut || shut;
    auto queued = std::move(m_queue);
    m_queue.clear();
    if (m_busy) {
      m_stop = Failure::lost("bus closed");
      m_link->cancel();
      m_gap_timer.cancel();
    } else {
      drop_connection();
      release_timers();
    }
    for (auto& p : queued) p.done(Failure::lost("bus closed"));
  }

  Status status() const {
    Status s = m_stats;
    s.connected = m_connected;
    s.queued = m_queue.size();
    return s;
  }

  const GatewaySpec& spec() const { return m_spec; }

private:
  struct Pending {
    Request req;
    Handler done;
  };

  bool rtu() const { return m_spec.kind != Kind::tcp; }

  // On a serial line, RTU frames are delimited by 3.5 character times of silence (11 bits a
  // character); the serial line specification fixes it at 1.75 ms above 19200 baud.
  Clock::duration frame_silence() const {
    if (m_spec.kind != Kind::rtu_serial || m_spec.baud == 0) return Clock::duration::zero();
    if (m_spec.baud > 19200) return std::chrono::microseconds(1750);
    return std::chrono::microseconds(38'500'000 / m_spec.baud + 1);
  }

  void start_next() {
    if (m_busy || m_queue.empty() || m_shut) return;
    m_busy = true;
    m_cur = std::move(m_queue.front());
    m_queue.pop_front();
    m_stop.reset();
    try {
      if (m_spec.protocol == Protocol::dlt645) {
        if (m_cur.req.frame.empty()) throw Error(Exit::usage, "a DL/T 645 gateway takes DL/T 645 frames only");
        m_tx = m_cur.req.frame;
      } else {
        m_tx = rtu() ? encode_rtu_request(m_cur.req) : encode_tcp_request(m_cur.req, ++m_transaction);
      }
    } catch (const Error& e) {
      return finish(Failure::bad_frame(std::string("request not sent: ") + e.what()));
    }
    auto self = shared_from_this();
    if (m_next_allowed > Clock::now()) {
      // The gateway's silent gap.
      m_gap_timer.expires_at(m_next_allowed);
      m_gap_timer.async_wait([self](error_code) { self->connect_step(); });
    } else {
      connect_step();
    }
  }

  // What a deadline ends: a connect or a wait for a reply (both fail as timeouts), or a drain
  // (which ends quietly: m_quiet).
  enum class Deadline { connect, reply, drain };

  // Arms the deadline: when it passes, the step in flight is cancelled.
  void arm(Clock::duration after, Deadline what) {
    m_deadline = Clock::now() + after;
    m_deadline_what = what;
    m_armed = true;
    if (!m_timer_pending || m_timer_due > m_deadline) start_timer(m_deadline);
  }

  void disarm() { m_armed = false; }

  void start_timer(Clock::time_point due) {
    m_timer_pending = true;
    m_timer_due = due;
    auto generation = ++m_timer_generation;
    m_timer.expires_at(due);
    m_timer.async_wait([self = shared_from_this(), generation](error_code ec) {
      if (generation != self->m_timer_generation) return; // replaced by a sooner one
      self->m_timer_pending = false;
      if (ec || !self->m_armed || self->m_stop || self->m_quiet) return;
      if (Clock::now() < self->m_deadline) return self->start_timer(self->m_deadline);
      self->m_armed = false;
      switch (self->m_deadline_what) {
      case Deadline::connect:
        self->m_stop = Failure::timeout("connecting to " + self->m_spec.address + " timed out");
        break;
      case Deadline::reply:
        self->m_stop = Failure::timeout(std::to_string(self->m_spec.timeout.count()) + " ms without a reply");
        break;
      case Deadline::drain: self->m_quiet = true; break;
      }
      self->m_link->cancel();
    });
  }

  // A closed bus lets go of its timers at once, so that nothing keeps it alive.
  void release_timers() {
    m_armed = false;
    ++m_timer_generation;
    m_timer_pending = false;
    m_timer.cancel();
    m_gap_timer.cancel();
  }

  void connect_step() {
    if (m_stop) return finish(*m_stop);
    if (m_connected && m_link->is_open()) {
      if (Clock::now() - m_idle_since < k_idle_probe || !m_link->peer_closed()) return drain_step();
      drop_connection(); // closed by the gateway while idle: reconnect rather than fail
    }
    arm(m_spec.connect_timeout, Deadline::connect);
    m_link->async_open([self = shared_from_this()](error_code ec) {
      self->disarm();
      if (self->m_stop || ec) {
        self->m_link->close();
        ++self->m_stats.consecutive_connect_failures;
        if (self->m_stop) return self->finish(*self->m_stop);
        return self->finish(Failure::refused(self->m_spec.address + ": " + ec.message()));
      }
      if (self->m_ever_connected) ++self->m_stats.reconnects;
      self->m_ever_connected = true;
      self->m_connected = true;
      self->m_stats.consecutive_connect_failures = 0;
      self->m_rx.clear();
      self->m_dirty = false;
      self->drain_step();
    });
  }

  // RTU has no transaction ids: after a timeout or a bad frame a late reply may still be on its
  // way, so read and discard until the line has been quiet for the response timeout (at most a
  // few times that, should a device never stop talking).
  void drain_step() {
    if (!rtu() || !m_dirty) return send_step();
    m_rx.clear();
    m_drain_until = Clock::now() + 5 * m_spec.timeout;
    drain_read();
  }

  void drain_read() {
    auto quiet = std::min<Clock::duration>(m_spec.timeout, m_drain_until - Clock::now());
    m_quiet = false;
    arm(std::max<Clock::duration>(quiet, milliseconds(1)), Deadline::drain);
    m_link->async_read_some(m_chunk, [self = shared_from_this()](error_code ec, std::size_t n) {
      self->disarm();
      if (self->m_stop) return self->finish(*self->m_stop);
      if (self->m_quiet) {
        self->m_quiet = false;
        self->m_dirty = false;
        return self->send_step();
      }
      if (ec) return self->lost(ec);
      (void)n;
      ++self->m_stats.stale_frames_dropped;
      if (Clock::now() >= self->m_drain_until) {
        self->m_dirty = false;
        return self->send_step();
      }
      self->drain_read();
    });
  }

  void send_step() {
    if (m_stop) return finish(*m_stop);
    if (rtu()) m_rx.clear();
    arm(m_spec.timeout, Deadline::reply);
    m_link->async_write(m_tx, [self = shared_from_this()](error_code ec) {
      if (self->m_stop) return self->finish(*self->m_stop);
      if (ec) return self->lost(ec);
      if (self->m_cur.req.broadcast) return self->finish(Response{});
      self->read_step();
    });
  }

  void read_step() {
    // A TCP stream may already hold the reply (behind stale frames) from an earlier read.
    if (!m_rx.empty() && try_complete()) return;
    m_link->async_read_some(m_chunk, [self = shared_from_this()](error_code ec, std::size_t n) {
      if (n > 0) self->m_rx.insert(self->m_rx.end(), self->m_chunk.begin(), self->m_chunk.begin() + static_cast<std::ptrdiff_t>(n));
      if (!ec && n > 0 && self->try_complete()) return;
      if (self->m_stop) return self->finish(*self->m_stop);
      if (ec) return self->lost(ec);
      self->read_step();
    });
  }

  // Looks for the reply in m_rx; true when the request has been finished.
  bool try_complete() {
    if (m_spec.protocol == Protocol::dlt645) {
      auto s = dlt645::scan_frame(m_rx);
      if (s.status == dlt645::FrameScan::Status::incomplete) return false;
      if (s.status == dlt645::FrameScan::Status::invalid) {
        m_dirty = true;
        finish(Failure::bad_frame(s.problem));
        return true;
      }
      Response r;
      r.frame.assign(m_rx.begin(), m_rx.begin() + static_cast<std::ptrdiff_t>(s.size));
      if (s.size != m_rx.size()) m_dirty = true;
      m_rx.clear();
      finish(std::move(r));
      return true;
    }
    if (rtu()) {
      FrameScan s = scan_rtu_response(m_cur.req, m_rx);
      if (s.status == FrameScan::Status::incomplete) return false;
      if (s.status == FrameScan::Status::invalid) {
        m_dirty = true;
        finish(Failure::bad_frame(s.problem));
        return true;
      }
      auto outcome = decode_response_pdu(m_cur.req, s.pdu);
      if (s.size != m_rx.size()) m_dirty = true; // bytes after the reply: noise or another frame
      m_rx.clear();
      finish(std::move(outcome));
      return true;
    }
    while (true) {
      FrameScan s = scan_tcp_frame(m_rx);
      if (s.status == FrameScan::Status::incomplete) return false;
      if (s.status == FrameScan::Status::invalid) {
        // The stream is out of step; only a new connection can put it right.
        drop_connection();
        finish(Failure::bad_frame(s.problem));
        return true;
      }
      if (s.transaction != m_transaction) {
        // A late reply to an earlier request: never the answer to this one.
        ++m_stats.stale_frames_dropped;
        m_rx.erase(m_rx.begin(), m_rx.begin() + static_cast<std::ptrdiff_t>(s.size));
        continue;
      }
      Outcome<Response> outcome = s.unit == m_cur.req.unit
                                      ? decode_response_pdu(m_cur.req, s.pdu)
                                      : Outcome<Response>(Failure::bad_frame("reply from unit " + std::to_string(s.unit)));
      m_rx.erase(m_rx.begin(), m_rx.begin() + static_cast<std::ptrdiff_t>(s.size));
      finish(std::move(outcome));
      return true;
    }
  }

  void lost(error_code ec) {
    drop_connection();
    finish(Failure::lost(m_spec.address + ": " + ec.message()));
  }

  void drop_connection() {
    m_link->close();
    m_connected = false;
    m_rx.clear();
  }

  void finish(Outcome<Response> outcome) {
    disarm();
    if (!outcome.ok()) {
      const auto& f = outcome.failure();
      if (f.kind == Failure::Kind::timeout && rtu()) m_dirty = true;
      if (f.kind == Failure::Kind::connection_lost && m_connected) drop_connection();
      ++m_stats.failures;
      ++m_stats.consecutive_failures;
      if (f.kind == Failure::Kind::timeout) ++m_stats.timeouts;
    } else {
      m_stats.consecutive_failures = 0;
    }
    ++m_stats.requests;
    m_stop.reset();
    m_busy = false;
    m_idle_since = Clock::now();
    m_next_allowed = m_idle_since + std::max<Clock::duration>(m_spec.gap, frame_silence());
    Pending cur = std::move(m_cur);
    m_cur = {};
    cur.done(std::move(outcome));
    if (m_shut) return release_timers();
    start_next();
  }

  GatewaySpec m_spec;
  std::unique_ptr<Link> m_link;
  asio::steady_timer m_timer;     // the deadline's (see arm())
  asio::steady_timer m_gap_timer; // the silent gap before a request
  asio::any_io_executor m_executor;
  std::deque<Pending> m_queue;
  Pending m_cur;
  bool m_busy = false;
  bool m_shut = false;
  bool m_connected = false;
  bool m_ever_connected = false;
  bool m_dirty = false; // RTU: a late reply may be on its way
  bool m_quiet = false; // a drain saw no byte for its quiet period
  std::optional<Failure> m_stop;
  bool m_armed = false;        // a deadline is in force
  Clock::time_point m_deadline{};
  Deadline m_deadline_what = Deadline::reply;
  bool m_timer_pending = false; // m_timer waits, due at m_timer_due
  Clock::time_point m_timer_due{};
  std::uint64_t m_timer_generation = 0;
  Clock::time_point m_idle_since{}; // when the last request finished
  std::uint16_t m_transaction = 0;
  std::vector<std::uint8_t> m_tx;
  std::vector<std::uint8_t> m_rx;
  std::array<std::uint8_t, 512> m_chunk{};
  Clock::time_point m_next_allowed{};
  Clock::time_point m_drain_until{};
  Status m_stats;
};

Bus::Bus(asio::io_context& io, GatewaySpec spec) : m_impl(std::make_shared<Impl>(io, std::move(spec))) {}

Bus::~Bus() { m_impl->close(true); }

void Bus::submit(Request req, Handler done) { m_impl->submit(std::move(req), std::move(done)); }
void Bus::close() { m_impl->close(false); }
Bus::Status Bus::status() const { return m_impl->status(); }
const GatewaySpec& Bus::spec() const { return m_impl->spec(); }

// Gateway specs ----------------------------------------------------------------------------------

const char* kind_name(Kind kind) {
  switch (kind) {
  case Kind::tcp: return "tcp";
  case Kind::rtu_over_tcp: return "rtu-over-tcp";
  case Kind::rtu_serial: return "rtu";
  }
  return "?";
}

Result<Kind> parse_kind(const std::string& text) {
  if (text == "tcp") return Kind::tcp;
  if (text == "rtu-over-tcp" || text == "rtu_over_tcp") return Kind::rtu_over_tcp;
  if (text == "rtu" || text == "rtu_serial") return Kind::rtu_serial;
  return Error(Exit::data, "unknown transport '" + text + "' (tcp, rtu-over-tcp, rtu)");
}

Result<Parity> parse_parity(const std::string& text) {
  if (text == "N" || text == "n" || text == "none") return Parity::none;
  if (text == "E" || text == "e" || text == "even") return Parity::even;
  if (text == "O" || text == "o" || text == "odd") return Parity::odd;
  return Error(Exit::usage, "parity must be N, E or O, not '" + text + "'");
}

char parity_letter(Parity p) { return p == Parity::even ? 'E' : p == Parity::odd ? 'O' : 'N'; }

std::string GatewaySpec::describe() const {
  if (protocol == Protocol::dlt645) {
    if (kind == Kind::rtu_serial)
      return fmt::format("dlt645 {} {} 8{}{}", address, baud, parity_letter(parity), stop_bits);
    return fmt::format("dlt645-tcp {}", address);
  }
  if (kind == Kind::rtu_serial)
    return fmt::format("rtu {} {} 8{}{}", address, baud, parity_letter(parity), stop_bits);
  return fmt::format("{} {}", kind_name(kind), address);
}

Result<std::pair<std::string, std::uint16_t>> parse_host_port(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return Error(Exit::usage, "expected HOST:PORT, got '" + text + "'");
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  const char* b = text.data() + colon + 1;
  const char* e = text.data() + text.size();
  auto [p, ec] = std::from_chars(b, e, port);
  if (ec != std::errc() || p != e || port > 65535)
    return Error(Exit::usage, "bad port in '" + text + "'");
  return std::pair{host, static_cast<std::uint16_t>(port)};
}

} // namespace kwh::transport
