#include <kwh/transport/rtu_libmodbus.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <fmt/format.h>
#include <modbus/modbus.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <unistd.h>

namespace kwh::transport {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

bool modem_rts(int fd, bool raised) {
  int bit = TIOCM_RTS;
  return ::ioctl(fd, raised ? TIOCMBIS : TIOCMBIC, &bit) == 0;
}

// The RTS line of the bus whose worker runs on this thread, and the first error setting it
// since `error` was last cleared. libmodbus calls drive_rts() with no user data, so the worker
// thread (one per bus) points this at its own.
struct RtsState {
  RtuLibmodbusBus::RtsLine line;
  int error = 0;
};
thread_local RtsState* t_rts = nullptr;

void drive_rts(modbus_t* ctx, int on) {
  if (!t_rts) return;
  const int saved = errno; // libmodbus reads errno after its own calls, not ours
  errno = 0;
  if (!t_rts->line(modbus_get_socket(ctx), on != 0) && t_rts->error == 0) t_rts->error = errno ? errno : EIO;
  errno = saved;
}

// The Failure for what libmodbus left in errno after a request failed.
Failure failure_of(int e, const GatewaySpec& spec) {
  if (e >= EMBXILFUN && e <= EMBXGTAR) return Failure::exception(static_cast<std::uint8_t>(e - MODBUS_ENOBASE));
  switch (e) {
  case ETIMEDOUT: return Failure::timeout(fmt::format("{} ms without a reply", spec.timeout.count()));
  case EMBBADCRC:
  case EMBBADDATA:
  case EMBBADSLAVE:
  case EMBMDATA:
  case EMBBADEXC: // an exception reply with a code libmodbus does not know
  case EMBUNKEXC: return Failure::bad_frame(fmt::format("libmodbus: {}", modbus_strerror(e)));
  default: return Failure::lost(fmt::format("{}: {}", spec.address, errno_text(e)));
  }
}

// Why RTS could not be set. ENOTTY: the driver has no modem-control lines at all (a pty, some
// adapters); the ioctl's own words say so obscurely.
std::string rts_problem(int e) {
  if (e == ENOTTY) return "the port has no RTS line (" + errno_text(e) + ")";
  return errno_text(e);
}

// The speeds libmodbus 3.1 sets on Linux; for any other it quietly uses 9600 baud.
bool libmodbus_speed(unsigned baud) {
  static constexpr unsigned k_speeds[] = {110,     300,     600,     1200,    2400,    4800,    9600,   19200,
                                          38400,   57600,   115200,  230400,  460800,  500000,  576000, 921600,
                                          1000000, 1152000, 1500000, 2500000, 3000000, 3500000, 4000000};
  return std::find(std::begin(k_speeds), std::end(k_speeds), baud) != std::end(k_speeds);
}

bool is_line_error(const Failure& f) {
  return f.kind == Failure::Kind::timeout || f.kind == Failure::Kind::bad_frame;
}

} // namespace

class RtuLibmodbusBus::Impl {
public:
  Impl(asio::io_context& io, GatewaySpec spec, RtsLine rts_line) : m_io(io), m_spec(std::move(spec)) {
    m_rts.line = rts_line ? std::move(rts_line) : RtsLine(modem_rts);
    m_wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    m_thread = std::thread([this] { run(); });
  }

  ~Impl() {
    std::deque<Pending> queued;
    {
      std::lock_guard lk(m_mutex);
      m_shut = true;
      queued.swap(m_queue);
    }
    wake();
    m_thread.join();
    // In submission order: the one that was on the line, then those that were waiting.
    if (m_orphan) m_orphan->done(Failure::lost("bus closed"));
    for (auto& p : queued) p.done(Failure::lost("bus closed"));
    if (m_wake >= 0) ::close(m_wake);
  }

  void submit(Request req, Handler done) {
    {
      std::lock_guard lk(m_mutex);
      m_queue.push_back({std::move(req), std::move(done), asio::make_work_guard(m_io)});
    }
    m_cv.notify_one();
  }

  void close() {
    std::deque<Pending> queued;
    {
      std::lock_guard lk(m_mutex);
      queued.swap(m_queue);
      ++m_epoch;
      m_drop = true;
    }
    wake();
    for (auto& p : queued) p.done(Failure::lost("bus closed"));
  }

  Status status() const {
    std::lock_guard lk(m_mutex);
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
    asio::executor_work_guard<asio::io_context::executor_type> work; // io.run() waits for it
  };

  // Wakes the worker from its waits: for a request, for the gap, and in a drain.
  void wake() {
    m_cv.notify_all();
    if (m_wake >= 0) {
      std::uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(m_wake, &one, sizeof one);
    }
  }

  // Whether the request started in `epoch` has been overtaken by close() or destruction.
  bool abandoned(std::uint64_t epoch) const { return m_shut || m_epoch != epoch; }

  // On a serial line RTU frames are delimited by 3.5 character times of silence (11 bits a
  // character); the serial line specification fixes it at 1.75 ms above 19200 baud.
  Clock::duration frame_silence() const {
    if (m_spec.baud == 0) return Clock::duration::zero();
    if (m_spec.baud > 19200) return std::chrono::microseconds(1750);
    return std::chrono::microseconds(38'500'000 / m_spec.baud + 1);
  }

  void run() {
    // Signals are for the program's own thread (kwhd's signal_set), not this one.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    t_rts = &m_rts;

    std::unique_lock lk(m_mutex);
    while (true) {
      m_cv.wait(lk, [&] { return m_shut || m_drop || !m_queue.empty(); });
      if (m_drop || m_shut) {
        m_drop = false;
        lk.unlock();
        disconnect();
        lk.lock();
      }
      if (m_shut) break;
      if (m_queue.empty()) continue;
      Pending p = std::move(m_queue.front());
      m_queue.pop_front();
      const std::uint64_t epoch = m_epoch;
      // The gateway's silent gap after the previous request.
      m_cv.wait_until(lk, m_next_allowed, [&] { return abandoned(epoch); });
      std::optional<Outcome<Response>> outcome;
      if (!abandoned(epoch)) {
        lk.unlock();
        outcome.emplace(perform(p.req, epoch));
        lk.lock();
      }
      if (!outcome || abandoned(epoch)) outcome.emplace(Failure::lost("bus closed"));
      count(*outcome);
      m_next_allowed = Clock::now() + std::max<Clock::duration>(m_spec.gap, frame_silence());
      if (m_shut) {
        m_orphan.emplace(std::move(p)); // the destructor calls it, the io_context may not run again
        break;
      }
      asio::post(m_io, [done = std::move(p.done), o = std::move(*outcome), work = std::move(p.work)]() mutable {
        done(std::move(o));
      });
    }
    lk.unlock();
    disconnect();
    t_rts = nullptr;
  }

  // Called with m_mutex held.
  void count(const Outcome<Response>& o) {
    ++m_stats.requests;
    if (o.ok()) {
      m_stats.consecutive_failures = 0;
      return;
    }
    ++m_stats.failures;
    ++m_stats.consecutive_failures;
    if (o.failure().kind == Failure::Kind::timeout) ++m_stats.timeouts;
  }

  // The request on the line, on the worker thread, without m_mutex.
  Outcome<Response> perform(const Request& req, std::uint64_t epoch) {
    if (m_spec.protocol != Protocol::modbus || !req.frame.empty())
      return Failure::bad_frame("request not sent: this bus carries Modbus requests only");
    try {
      (void)encode_request_pdu(req); // the same checks as Bus: counts, limits, values
    } catch (const Error& e) {
      return Failure::bad_frame(std::string("request not sent: ") + e.what());
    }
    if (!m_ctx) {
      if (auto refused = open()) return *refused;
    }
    if (m_dirty && !drain(epoch)) return Failure::lost("bus closed");
    if (modbus_set_slave(m_ctx, req.unit) < 0)
      return Failure::bad_frame(fmt::format("request not sent: libmodbus does not address unit {}", req.unit));

    m_rts.error = 0;
    Outcome<Response> o = call(req);
    if (m_rts.error != 0) {
      const int rts_error = m_rts.error;
      disconnect();
      return Failure::lost(fmt::format("{}: cannot drive RTS: {}", m_spec.address, rts_problem(rts_error)));
    }
    if (!o.ok()) {
      const Failure& f = o.failure();
      if (is_line_error(f)) {
        m_dirty = true; // a late reply, or the rest of a garbled one, may still come
      } else if (f.kind == Failure::Kind::connection_lost) {
        disconnect();
      }
      return o;
    }
    // Bytes after the reply: noise or another frame. Drop them before the next request.
    int waiting = 0;
    if (::ioctl(modbus_get_socket(m_ctx), FIONREAD, &waiting) == 0 && waiting > 0) m_dirty = true;
    return o;
  }

  // One libmodbus call; a failure from errno.
  Outcome<Response> call(const Request& req) {
    Response r;
    const int address = req.address, count = req.count;
    int rc = -1, want = count;
    switch (req.function) {
    case Function::read_holding:
      r.words.resize(req.count);
      rc = modbus_read_registers(m_ctx, address, count, r.words.data());
      break;
    case Function::read_input:
      r.words.resize(req.count);
      rc = modbus_read_input_registers(m_ctx, address, count, r.words.data());
      break;
    case Function::read_coils:
    case Function::read_discrete: {
      std::vector<std::uint8_t> bits(req.count);
      rc = req.function == Function::read_coils ? modbus_read_bits(m_ctx, address, count, bits.data())
                                                : modbus_read_input_bits(m_ctx, address, count, bits.data());
      r.bits.assign(bits.begin(), bits.end());
      break;
    }
    case Function::write_single_coil:
      want = 1;
      rc = modbus_write_bit(m_ctx, address, req.values.at(0) != 0 ? 1 : 0);
      break;
    case Function::write_single_register:
      want = 1;
      rc = modbus_write_register(m_ctx, address, req.values.at(0));
      break;
    case Function::write_multiple_registers:
      want = static_cast<int>(req.values.size());
      rc = modbus_write_registers(m_ctx, address, want, req.values.data());
      break;
    }
    if (rc < 0) return failure_of(errno, m_spec);
    if (rc != want) return Failure::bad_frame(fmt::format("{} items in the reply, {} asked for", rc, want));
    return r;
  }

  // Opens and sets up the port; the Failure when it cannot.
  std::optional<Failure> open() {
    auto refuse = [&](modbus_t* ctx, std::string why) -> std::optional<Failure> {
      if (ctx) {
        modbus_close(ctx);
        modbus_free(ctx);
      }
      std::lock_guard lk(m_mutex);
      ++m_stats.consecutive_connect_failures;
      return Failure::refused(fmt::format("{}: {}", m_spec.address, why));
    };
    if (m_spec.address.empty()) return refuse(nullptr, "no serial device");
    if (!libmodbus_speed(m_spec.baud)) return refuse(nullptr, fmt::format("libmodbus cannot set {} baud", m_spec.baud));
    const char parity = m_spec.parity == Parity::even ? 'E' : m_spec.parity == Parity::odd ? 'O' : 'N';
    modbus_t* ctx = modbus_new_rtu(m_spec.address.c_str(), static_cast<int>(m_spec.baud), parity, 8,
                                   static_cast<int>(m_spec.stop_bits));
    if (!ctx) return refuse(nullptr, errno_text(errno));
    auto timeout_us = std::max<std::int64_t>(1000, std::chrono::microseconds(m_spec.timeout).count());
    modbus_set_response_timeout(ctx, static_cast<std::uint32_t>(timeout_us / 1'000'000),
                                static_cast<std::uint32_t>(timeout_us % 1'000'000));
    modbus_set_byte_timeout(ctx, 0, 0); // the whole reply within the response timeout
    modbus_set_error_recovery(ctx, MODBUS_ERROR_RECOVERY_NONE);
    if (modbus_connect(ctx) < 0) {
      const int e = errno;
      modbus_free(ctx);
      return refuse(nullptr, errno_text(e));
    }
    // libmodbus waits with select(), which cannot take a descriptor this high.
    if (modbus_get_socket(ctx) >= FD_SETSIZE) return refuse(ctx, "too many open files for libmodbus's select()");
    if (m_spec.rts != Rts::none) {
      // The kernel's RS-485 mode where the driver has one; without it libmodbus's RTS does.
      (void)modbus_rtu_set_serial_mode(ctx, MODBUS_RTU_RS485);
      modbus_rtu_set_custom_rts(ctx, drive_rts);
      m_rts.error = 0;
      // Sets the line to its level between requests (low for up, high for down).
      if (modbus_rtu_set_rts(ctx, m_spec.rts == Rts::up ? MODBUS_RTU_RTS_UP : MODBUS_RTU_RTS_DOWN) < 0)
        return refuse(ctx, "cannot drive RTS: " + errno_text(errno));
      if (m_rts.error != 0)
        return refuse(ctx, "cannot drive RTS for RS-485 direction (--rts): " + rts_problem(m_rts.error));
      modbus_rtu_set_rts_delay(ctx, static_cast<int>(m_spec.rts_delay.count()));
    }
    modbus_flush(ctx);
    m_ctx = ctx;
    m_dirty = false;
    std::lock_guard lk(m_mutex);
    m_connected = true;
    if (m_ever_connected) ++m_stats.reconnects;
    m_ever_connected = true;
    m_stats.consecutive_connect_failures = 0;
    return std::nullopt;
  }

  void disconnect() {
    if (m_ctx) {
      modbus_close(m_ctx);
      modbus_free(m_ctx);
      m_ctx = nullptr;
    }
    std::lock_guard lk(m_mutex);
    m_connected = false;
  }

  // Reads and drops what arrives until the line has been quiet for the response timeout (for
  // at most five of them). False when close() or destruction interrupted it.
  bool drain(std::uint64_t epoch) {
    const int fd = modbus_get_socket(m_ctx);
    const auto until = Clock::now() + 5 * m_spec.timeout;
    std::array<std::uint8_t, 256> chunk{};
    while (true) {
      const auto now = Clock::now();
      if (now >= until) break;
      const auto quiet = std::min<Clock::duration>(m_spec.timeout, until - now);
      const auto ms = std::chrono::ceil<std::chrono::milliseconds>(quiet).count();
      pollfd fds[2] = {{fd, POLLIN, 0}, {m_wake, POLLIN, 0}};
      const int n = ::poll(fds, 2, static_cast<int>(std::max<std::int64_t>(1, ms)));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break; // quiet (or poll failed: the request will tell)
      if (fds[1].revents & POLLIN) {
        std::uint64_t ignored = 0;
        [[maybe_unused]] auto r = ::read(m_wake, &ignored, sizeof ignored);
        std::lock_guard lk(m_mutex);
        if (abandoned(epoch)) return false;
        continue;
      }
      if (!(fds[0].revents & POLLIN)) break; // hung up or in error: the request will tell
      const auto got = ::read(fd, chunk.data(), chunk.size());
      if (got <= 0) break;
      std::lock_guard lk(m_mutex);
      ++m_stats.stale_frames_dropped;
    }
    m_dirty = false;
    return true;
  }

  asio::io_context& m_io;
  const GatewaySpec m_spec;

  // Shared with the io_context's thread, under m_mutex.
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  std::deque<Pending> m_queue;
  std::uint64_t m_epoch = 0; // moved on by close(): the request on the line is abandoned
  bool m_drop = false;       // close() asked for the port to be closed
  bool m_shut = false;       // being destroyed
  bool m_connected = false;
  bool m_ever_connected = false;
  Status m_stats;
  std::optional<Pending> m_orphan; // on the line when destruction began

  // The worker's own.
  modbus_t* m_ctx = nullptr;
  RtsState m_rts;
  bool m_dirty = false; // a late reply may be on its way
  Clock::time_point m_next_allowed{};

  int m_wake = -1; // an eventfd that interrupts a drain
  std::thread m_thread;
};

RtuLibmodbusBus::RtuLibmodbusBus(asio::io_context& io, GatewaySpec spec, RtsLine rts_line)
    : m_impl(std::make_unique<Impl>(io, std::move(spec), std::move(rts_line))) {}

RtuLibmodbusBus::~RtuLibmodbusBus() = default;

void RtuLibmodbusBus::submit(Request req, Handler done) { m_impl->submit(std::move(req), std::move(done)); }
void RtuLibmodbusBus::close() { m_impl->close(); }
RtuLibmodbusBus::Status RtuLibmodbusBus::status() const { return m_impl->status(); }
const GatewaySpec& RtuLibmodbusBus::spec() const { return m_impl->spec(); }

bool uses_libmodbus(const GatewaySpec& spec) {
  return spec.kind == Kind::rtu_serial && spec.protocol == Protocol::modbus && spec.rts != Rts::none;
}

std::unique_ptr<BusBase> make_bus(asio::io_context& io, GatewaySpec spec) {
  if (uses_libmodbus(spec)) return std::make_unique<RtuLibmodbusBus>(io, std::move(spec));
  return std::make_unique<Bus>(io, std::move(spec));
}

} // namespace kwh::transport
