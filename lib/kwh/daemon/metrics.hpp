#pragma once
// kwhd's Prometheus metrics (text exposition format 0.0.4): counters and histograms kept in
// atomics, so that the poll path, the writer thread and the HTTP responder share them without
// locks. Names follow Prometheus practice: kwh_ prefix, base units, _total for counters, and
// no label per meter (a site has thousands).

#include <kwh/hub/pusher.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kwh::daemon {

// A cumulative histogram with fixed bucket bounds (seconds).
class Histogram {
public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double seconds);
  // Appends the _bucket, _sum and _count lines of `name`.
  void render(std::string& out, const std::string& name, const std::string& help) const;
  std::uint64_t count() const { return m_count.load(std::memory_order_relaxed); }

private:
  std::vector<double> m_bounds;
  std::unique_ptr<std::atomic<std::uint64_t>[]> m_buckets; // not cumulative; summed when rendered
  std::atomic<std::uint64_t> m_count{0};
  std::atomic<std::uint64_t> m_sum_us{0};
};

enum class PollResult { ok, timeout, exception, bad_frame, connection };
inline constexpr std::size_t k_poll_results = 5;
const char* poll_result_name(PollResult r);

enum class CommandResult { done, failed, retried };
inline constexpr std::size_t k_command_results = 3;
const char* command_result_name(CommandResult r);

struct Metrics {
  Metrics();
  std::array<std::atomic<std::uint64_t>, k_poll_results> polls{};
  std::array<std::atomic<std::uint64_t>, k_command_results> commands{};
  std::atomic<std::uint64_t> readings_written{0};
  std::atomic<std::uint64_t> readings_dropped{0};
  std::atomic<std::uint64_t> meters_online{0}, meters_offline{0}, meters_unknown{0};
  std::atomic<std::uint64_t> cycles{0}, polls_skipped{0};
  std::atomic<std::uint64_t> stale_replies{0};
  Histogram poll_duration;
  Histogram db_write;
  Histogram upkeep_write; // transactions of the readings' upkeep (compaction, retention)
  std::atomic<std::uint64_t> readings_pruned{0}, events_pruned{0};
  // Event hooks: deliveries sent, given up, attempts failed that are tried again; pending now.
  std::atomic<std::uint64_t> hooks_sent{0}, hooks_failed{0}, hooks_retried{0}, hooks_pending{0};
  // The hub's pusher ([hub]): rows waiting, rows the hub took, failed attempts, alarm.
  hub::PushCounters hub;

  void count_poll(PollResult r) { polls[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed); }
  void count_command(CommandResult r) {
    commands[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
  // The whole exposition, for GET /metrics.
  std::string render() const;
};

// A minimal HTTP/1.0 responder: GET /metrics answers the metrics, anything else 404. One
// request per connection, answered and closed; bounded request size and time.
class MetricsServer {
public:
  // listen is "host:port". Throws Error(config) when it cannot be parsed or bound.
  MetricsServer(boost::asio::io_context& io, const std::string& listen, const Metrics& metrics);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  boost::asio::ip::tcp::endpoint endpoint() const;
  void stop();

private:
  void accept();
  boost::asio::io_context& m_io;
  boost::asio::ip::tcp::acceptor m_acceptor;
  const Metrics& m_metrics;
};

} // namespace kwh::daemon
