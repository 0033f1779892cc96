#include <kwh/daemon/metrics.hpp>

#include <kwh/transport/bus.hpp>
#include <kwh/util/error.hpp>

#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include <cmath>

namespace kwh::daemon {

namespace asio = boost::asio;
using asio::ip::tcp;

Histogram::Histogram(std::vector<double> bounds)
    : m_bounds(std::move(bounds)), m_buckets(new std::atomic<std::uint64_t>[m_bounds.size() + 1]) {
  for (std::size_t i = 0; i <= m_bounds.size(); ++i) m_buckets[i].store(0);
}

void Histogram::observe(double seconds) {
  std::size_t i = 0;
  while (i < m_bounds.size() && seconds > m_bounds[i]) ++i;
  m_buckets[i].fetch_add(1, std::memory_order_relaxed);
  m_count.fetch_add(1, std::memory_order_relaxed);
  m_sum_us.fetch_add(static_cast<std::uint64_t>(std::llround(std::max(seconds, 0.0) * 1e6)),
                     std::memory_order_relaxed);
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < m_bounds.size(); ++i) {
    cumulative += m_buckets[i].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, m_bounds[i], cumulative);
  }
  cumulative += m_buckets[m_bounds.size()].load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
  out += fmt::format("{}_sum {}\n", name, static_cast<double>(m_sum_us.load(std::memory_order_relaxed)) / 1e6);
  out += fmt::format("{}_count {}\n", name, cumulative);
}

const char* poll_result_name(PollResult r) {
  switch (r) {
  case PollResult::ok: return "ok";
  case PollResult::timeout: return "timeout";
  case PollResult::exception: return "exception";
  case PollResult::bad_frame: return "bad_frame";
  case PollResult::connection: return "connection";
  }
  return "?";
}

const char* command_result_name(CommandResult r) {
  switch (r) {
  case CommandResult::done: return "done";
  case CommandResult::failed: return "failed";
  case CommandResult::retried: return "retried";
  }
  return "?";
}

Metrics::Metrics()
    : poll_duration({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}),
      db_write({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}),
      upkeep_write({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}) {}

std::string Metrics::render() const {
  std::string out;
  out += "# HELP kwh_polls_total Polls of a meter, by result.\n# TYPE kwh_polls_total counter\n";
  for (std::size_t i = 0; i < k_poll_results; ++i)
    out += fmt::format("kwh_polls_total{{result=\"{}\"}} {}\n", poll_result_name(static_cast<PollResult>(i)),
                       polls[i].load(std::memory_order_relaxed));
  poll_duration.render(out, "kwh_poll_duration_seconds", "Time to read one meter, retries included.");
  out += "# HELP kwh_meters Meters in service, by status.\n# TYPE kwh_meters gauge\n";
  out += fmt::format("kwh_meters{{status=\"online\"}} {}\n", meters_online.load());
  out += fmt::format("kwh_meters{{status=\"offline\"}} {}\n", meters_offline.load());
  out += fmt::format("kwh_meters{{status=\"unknown\"}} {}\n", meters_unknown.load());
  out += "# HELP kwh_commands_total Queued commands carried out, by result.\n# TYPE kwh_commands_total counter\n";
  for (std::size_t i = 0; i < k_command_results; ++i)
    out += fmt::format("kwh_commands_total{{result=\"{}\"}} {}\n",
                       command_result_name(static_cast<CommandResult>(i)), commands[i].load());
  db_write.render(out, "kwh_db_write_seconds", "Time of one write transaction of the writer thread.");
  upkeep_write.render(out, "kwh_upkeep_write_seconds",
                      "Time of one write transaction of the readings' upkeep (compaction and retention).");
  out += "# HELP kwh_readings_pruned_total Readings removed by retention.\n# TYPE kwh_readings_pruned_total counter\n";
  out += fmt::format("kwh_readings_pruned_total {}\n", readings_pruned.load());
  out += "# HELP kwh_events_pruned_total Events removed by retention.\n# TYPE kwh_events_pruned_total counter\n";
  out += fmt::format("kwh_events_pruned_total {}\n", events_pruned.load());
  out += "# HELP kwh_readings_written_total Readings stored.\n# TYPE kwh_readings_written_total counter\n";
  out += fmt::format("kwh_readings_written_total {}\n", readings_written.load());
  out += "# HELP kwh_readings_dropped_total Readings dropped unwritten while the backlog was over [poll] "
         "max_backlog.\n# TYPE kwh_readings_dropped_total counter\n";
  out += fmt::format("kwh_readings_dropped_total {}\n", readings_dropped.load());
  out += "# HELP kwh_poll_cycles_total Poll cycles started.\n# TYPE kwh_poll_cycles_total counter\n";
  out += fmt::format("kwh_poll_cycles_total {}\n", cycles.load());
  out += "# HELP kwh_polls_skipped_total Polls dropped because their bus was still busy with the previous "
         "cycle.\n# TYPE kwh_polls_skipped_total counter\n";
  out += fmt::format("kwh_polls_skipped_total {}\n", polls_skipped.load());
  out += "# HELP kwh_stale_replies_total Replies that came after their request had failed (late), dropped "
         "unread.\n# TYPE kwh_stale_replies_total counter\n";
  out += fmt::format("kwh_stale_replies_total {}\n", stale_replies.load());
  out += "# HELP kwh_hooks_sent_total Hook deliveries whose program exited 0.\n# TYPE kwh_hooks_sent_total counter\n";
  out += fmt::format("kwh_hooks_sent_total {}\n", hooks_sent.load());
  out += "# HELP kwh_hooks_failed_total Hook deliveries given up after their last retry.\n"
         "# TYPE kwh_hooks_failed_total counter\n";
  out += fmt::format("kwh_hooks_failed_total {}\n", hooks_failed.load());
  out += "# HELP kwh_hooks_retried_total Hook attempts that failed and are tried again.\n"
         "# TYPE kwh_hooks_retried_total counter\n";
  out += fmt::format("kwh_hooks_retried_total {}\n", hooks_retried.load());
  out += "# HELP kwh_hooks_pending Hook deliveries waiting to be sent or retried.\n# TYPE kwh_hooks_pending gauge\n";
  out += fmt::format("kwh_hooks_pending {}\n", hooks_pending.load());
  out += "# HELP kwh_hub_rows_waiting Outbox rows not yet at the hub ([hub]).\n# TYPE kwh_hub_rows_waiting gauge\n";
  out += fmt::format("kwh_hub_rows_waiting {}\n", hub.rows_waiting.load());
  out += "# HELP kwh_hub_rows_pushed_total Outbox rows the hub took (duplicates not counted).\n"
         "# TYPE kwh_hub_rows_pushed_total counter\n";
  out += fmt::format("kwh_hub_rows_pushed_total {}\n", hub.rows_pushed.load());
  out += "# HELP kwh_hub_push_errors_total Pushes to the hub that failed and are tried again.\n"
         "# TYPE kwh_hub_push_errors_total counter\n";
  out += fmt::format("kwh_hub_push_errors_total {}\n", hub.push_errors.load());
  out += "# HELP kwh_hub_alarm 1 while pushes to the hub are stopped by an alarm (kwh hub status).\n"
         "# TYPE kwh_hub_alarm gauge\n";
  out += fmt::format("kwh_hub_alarm {}\n", hub.alarm.load());
  return out;
}

namespace {

// One connection: read the request head, answer, close. Owns itself through shared_ptr.
class Exchange : public std::enable_shared_from_this<Exchange> {
public:
  Exchange(tcp::socket socket, const Metrics& metrics)
      : m_socket(std::move(socket)), m_timer(m_socket.get_executor()), m_metrics(metrics), m_buf(8192) {}

  void start() {
    auto self = shared_from_this();
    m_timer.expires_after(std::chrono::seconds(5));
    m_timer.async_wait([self](boost::system::error_code ec) {
      if (!ec) self->m_socket.close(ec);
    });
    asio::async_read_until(m_socket, m_buf, "\r\n\r\n", [self](boost::system::error_code ec, std::size_t) {
      if (ec) return self->finish();
      std::istream in(&self->m_buf);
      std::string method, target;
      in >> method >> target;
      if (method == "GET" && (target == "/metrics" || target.rfind("/metrics?", 0) == 0)) {
        std::string body = self->m_metrics.render();
        self->m_reply = fmt::format("HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                                    "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                                    body.size(), body);
      } else {
        const std::string body = "not found; try /metrics\n";
        self->m_reply = fmt::format("HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n"
                                    "Connection: close\r\n\r\n{}",
                                    body.size(), body);
      }
      asio::async_write(self->m_socket, asio::buffer(self->m_reply),
                        [self](boost::system::error_code, std::size_t) { self->finish(); });
    });
  }

private:
  void finish() {
    boost::system::error_code ec;
    m_socket.shutdown(tcp::socket::shutdown_both, ec);
    m_socket.close(ec);
    m_timer.cancel();
  }
  tcp::socket m_socket;
  asio::steady_timer m_timer;
  const Metrics& m_metrics;
  asio::streambuf m_buf;
  std::string m_reply;
};

tcp::endpoint parse_endpoint(const std::string& listen) {
  auto hp = transport::parse_host_port(listen);
  if (!hp) fail(Exit::config, "[metrics] listen: '{}' is not host:port", listen);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(hp->first == "localhost" ? "127.0.0.1" : hp->first, ec);
  if (ec) fail(Exit::config, "[metrics] listen: '{}' is not an IP address", hp->first);
  return {address, hp->second};
}

} // namespace

MetricsServer::MetricsServer(asio::io_context& io, const std::string& listen, const Metrics& metrics)
    : m_io(io), m_acceptor(io), m_metrics(metrics) {
  auto ep = parse_endpoint(listen);
  boost::system::error_code ec;
  m_acceptor.open(ep.protocol(), ec);
  if (!ec) m_acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) m_acceptor.bind(ep, ec);
  if (!ec) m_acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail(Exit::config, "[metrics] listen {}: {}", listen, ec.message());
  accept();
}

MetricsServer::~MetricsServer() { stop(); }

tcp::endpoint MetricsServer::endpoint() const { return m_acceptor.local_endpoint(); }

void MetricsServer::stop() {
  boost::system::error_code ec;
  m_acceptor.close(ec);
}

void MetricsServer::accept() {
  m_acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !m_acceptor.is_open()) return;
    if (!ec) std::make_shared<Exchange>(std::move(socket), m_metrics)->start();
    accept();
  });
}

} // namespace kwh::daemon
