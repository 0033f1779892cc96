#pragma once
// kwhd's upkeep of the readings (readings/maintenance.hpp): every ten minutes it moves recent
// rows older than an hour into blocks; once a day, at [retention] prune_at site time (or at the
// first check after it, when kwhd was not running then), it prunes: compaction, thinning of raw
// readings older than [retention] raw, removal of old events, and free pages returned.
//
// Each step is a job on the writer thread in its own short transaction (readings'
// k_step_budget of work, under about 50 ms with the commit), so reading batches and cashiers' sales go in between; the
// transactions' times are in kwh_upkeep_write_seconds. The day of the last prune is kept in
// settings ('retention_pruned'), so a restart does not prune twice.

#include <kwh/config/config.hpp>
#include <kwh/daemon/metrics.hpp>
#include <kwh/daemon/writer.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <vector>
#include <optional>

namespace kwh::daemon {

// Also once a site-local day (and once when kwhd starts) it charges the standing charges that
// are due to every open account (billing::charge_standing_all), so that an account whose meters
// send no readings (offline, or none attached) is charged them too; billing charges them anyway
// with each reading it bills, and never twice.
//
// Also once a day, at [poll] sync_time site time (when set), it queues a sync_time command for
// each meter whose profile names a clock (those `clock_meters` returns; none already queued),
// with reason "schedule"; the day is kept in settings ('clocks_synced').
class Upkeep {
public:
  Upkeep(boost::asio::io_context& io, Writer& writer, Metrics& metrics, const config::Config& cfg,
         std::function<std::vector<std::int64_t>()> clock_meters = {});
  void start();
  void set_config(const config::Config& cfg) { m_cfg = cfg; }
  // No new step starts after this; the one running finishes.
  void stop();

private:
  void arm(std::chrono::seconds after);
  void check();
  void step(int phase, bool daily, std::shared_ptr<struct UpkeepRun> run);

  boost::asio::io_context& m_io;
  Writer& m_writer;
  Metrics& m_metrics;
  config::Config m_cfg;
  boost::asio::steady_timer m_timer;
  bool m_running = false;
  std::atomic<bool> m_stopping{false};
  std::optional<std::chrono::steady_clock::time_point> m_last_compaction;
  std::optional<std::string> m_pruned; // the site-local date of the last daily prune
  std::function<std::vector<std::int64_t>()> m_clock_meters;
  std::optional<std::string> m_clocks_synced; // the site-local date of the last daily time sync
  void sync_clocks(const std::string& today);
  std::optional<std::string> m_standing_charged; // the site-local date standing charges were last due
  void charge_standing(const std::string& today);
  bool m_loaded = false;
};

} // namespace kwh::daemon
