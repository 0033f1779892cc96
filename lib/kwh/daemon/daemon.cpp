#include <kwh/daemon/daemon.hpp>

#include <kwh/daemon/commands.hpp>
#include <kwh/daemon/health.hpp>
#include <kwh/daemon/hooks.hpp>
#include <kwh/daemon/intents.hpp>
#include <kwh/daemon/log.hpp>
#include <kwh/daemon/metrics.hpp>
#include <kwh/daemon/notify.hpp>
#include <kwh/daemon/poller.hpp>
#include <kwh/daemon/roster.hpp>
#include <kwh/daemon/schedule.hpp>
#include <kwh/daemon/upkeep.hpp>
#include <kwh/daemon/writer.hpp>
#include <kwh/hub/pusher.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/util/time.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/system_timer.hpp>
#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <future>
#include <map>
#include <set>
#include <unordered_map>
#include <unistd.h>

namespace kwh::daemon {

namespace {
// "1 meter", "2 meters".
std::string count_of(std::size_t n, const char* what) { return fmt::format("{} {}{}", n, what, n == 1 ? "" : "s"); }
} // namespace


namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto k_command_check = 300ms;
constexpr auto k_stop_grace = 3s;
constexpr std::size_t k_commands_per_claim = 200;
// The writer must have finished a heartbeat within this long for WATCHDOG=1 to go out.
constexpr std::int64_t k_writer_stall_ms = 60'000;

} // namespace

class Daemon::Impl final : public PollerEvents {
public:
  Impl(Options options, config::Config cfg)
      : m_options(std::move(options)), m_cfg(std::move(cfg)), m_signals(m_io), m_cycle_timer(m_io),
        m_command_timer(m_io), m_watchdog_timer(m_io), m_stop_timer(m_io),
        m_seed(static_cast<std::uint32_t>(::getpid()) ^ static_cast<std::uint32_t>(now_ms())) {}

  int run();

  void polled(const GatewayTarget& gateway, const MeterTarget& meter, PollOutcome outcome) override;
  void command_done(const QueuedCommand& command, const CommandOutcome& outcome) override;
  void idle(const GatewayTarget& gateway) override;

private:
  enum class Phase { starting, polling, once_polls, once_commands, stopping, done };

  void apply_roster(Roster roster);
  void arm_cycle();
  void arm_command_check();
  void claim_commands();
  void dispatch(std::vector<QueuedCommand> commands);
  void wait_signals();
  void reload();
  void begin_stop(const char* why);
  void finish();
  bool all_idle() const;
  void after_once_polls();
  void update_status();
  void recount();
  // A circuit of `device` was polled: the device's status, and the circuits' own offline events
  // held back until the device's polls of the cycle are done (`done`).
  void update_device(const GatewayTarget& gateway, const std::string& device, bool done);
  void flush_held_events();
  void arm_watchdog();
  void start_metrics();
  // The hub's pusher ([hub] url), on a thread of its own; none while the url is empty.
  void start_pusher();
  PollSettings settings() const;

  asio::io_context m_io;
  // Keeps run() going while the event loop waits for the writer thread (--once has no timers).
  asio::executor_work_guard<asio::io_context::executor_type> m_work = asio::make_work_guard(m_io);
  Options m_options;
  config::Config m_cfg;
  Metrics m_metrics;
  std::unique_ptr<Writer> m_writer;
  std::unique_ptr<Upkeep> m_upkeep;
  std::unique_ptr<HookRunner> m_hooks;
  std::unique_ptr<hub::Pusher> m_pusher;
  Notifier m_notifier = Notifier::from_environment();
  std::unique_ptr<MetricsServer> m_metrics_server;
  asio::signal_set m_signals;
  asio::system_timer m_cycle_timer;
  asio::steady_timer m_command_timer, m_watchdog_timer, m_stop_timer;
  std::map<std::int64_t, std::shared_ptr<GatewayPoller>> m_pollers; // by gateway id
  std::unordered_map<std::int64_t, std::int64_t> m_meter_gateway;   // meter id -> gateway id
  std::unordered_map<std::int64_t, std::string> m_meter_names;
  std::unordered_map<std::int64_t, MeterHealth> m_health;
  std::map<std::int64_t, GatewayHealth> m_gateway_health;
  // Multi-user devices, by (gateway id, device name): their circuits, their status, the circuits
  // whose offline the device's event reports, and circuits' offline events not yet written.
  using DeviceKey = std::pair<std::int64_t, std::string>;
  std::map<DeviceKey, std::vector<std::int64_t>> m_device_circuits;
  std::map<DeviceKey, DeviceHealth> m_device_health;
  std::set<std::int64_t> m_device_covered;
  std::map<DeviceKey, std::vector<EventRecord>> m_held_events;
  std::size_t m_meters = 0;
  std::size_t m_offline = 0;
  bool m_claiming = false;
  int m_commands_in_flight = 0;
  Phase m_phase = Phase::starting;
  EpochMs m_last_cycle = 0;
  std::string m_last_status;
  std::uint32_t m_seed;
  std::atomic<std::int64_t> m_writer_beat{0};
  bool m_signals_added = false;
};

Daemon::Daemon(Options options, config::Config cfg) : m_impl(std::make_unique<Impl>(std::move(options), std::move(cfg))) {}
Daemon::~Daemon() = default;
int Daemon::run() { return m_impl->run(); }

PollSettings Daemon::Impl::settings() const {
  PollSettings s;
  s.retries = std::max(m_cfg.poll.retries, 0);
  s.max_drift = m_cfg.poll.max_drift;
  // Reconnect attempts back off up to the interval (2 s to 60 s), so a gateway that returns is
  // polled again within about a cycle without hammering one that stays away.
  s.reconnect_cap = std::clamp<std::chrono::milliseconds>(m_cfg.poll.interval, 2s, 60s);
  return s;
}

int Daemon::Impl::run() {
  auto db = storage::Database::open(m_options.database);
  if (db->user_version() != storage::schema_version_latest())
    fail(Exit::failed, "database {} has schema version {}, expected {}; run 'kwh init'", db->path(), db->user_version(),
         storage::schema_version_latest());
  storage::check_minor_units(*db, m_cfg.minor_units);
  // Every cycle touches each meter's latest readings page, its values and its usage row: a
  // page cache of SQLite's default 2 MB would read most of them from the file again each
  // cycle at a few thousand meters. Pages are allocated as used, up to this.
  db->exec("PRAGMA cache_size = -32768");
  if (int n = requeue_running(*db); n > 0) log("{} commands left running by an earlier kwhd are pending again", n);
  Roster roster = load_roster(*db, m_cfg);
  m_writer = std::make_unique<Writer>(std::move(db), m_cfg, m_metrics);
  m_writer->start();
  log("{} on {}, {} (database {})", count_of(roster.meter_count(), "meter"), count_of(roster.gateways.size(), "gateway"),
      m_options.once ? std::string("polled once") : "polled every " + format_duration(m_cfg.poll.interval),
      m_options.database);
  apply_roster(std::move(roster));

  // SIGTERM and SIGINT stop kwhd the same way with --once as without: what is on the buses is
  // finished (or given up after the grace time) and what was read is written.
  wait_signals();
  if (m_options.once) {
    m_phase = Phase::once_polls;
    const UnixTime t = now();
    for (auto& [id, p] : m_pollers) p->start_cycle(t, 0ms);
    if (all_idle()) after_once_polls();
  } else {
    m_phase = Phase::polling;
    start_metrics();
    arm_cycle();
    arm_command_check();
    arm_watchdog();
    m_upkeep = std::make_unique<Upkeep>(m_io, *m_writer, m_metrics, m_cfg, [this] {
      std::vector<std::int64_t> ids;
      for (const auto& [gateway, poller] : m_pollers)
        for (const auto& m : poller->target().meters)
          if (m.model && m.model->profile.clock) ids.push_back(m.id);
      return ids;
    });
    m_upkeep->start();
    m_hooks = std::make_unique<HookRunner>(m_io, *m_writer, m_metrics, m_cfg);
    m_hooks->start();
    start_pusher();
    update_status();
    m_notifier.ready();
  }
  m_io.run();
  // The hooks running finish (within [hooks] timeout) and their outcomes are written.
  if (m_hooks) m_hooks->stop();
  // Its last writes go through the writer, which stops after it.
  m_pusher.reset();
  m_writer->stop();
  if (!m_options.once) log("stopped");
  return 0;
}

void Daemon::Impl::start_pusher() {
  m_pusher.reset();
  if (!m_cfg.hub.enabled()) return;
  // The pusher's few writes (its cursors in settings) go through the writer thread, like every
  // other write of kwhd; it waits for each, on its own thread.
  auto write = [this](const std::function<void(storage::Database&)>& job) {
    auto done = std::make_shared<std::promise<void>>();
    auto result = done->get_future();
    m_writer->post_outside_billing([job, done](storage::Database& db) {
      try {
        job(db);
        done->set_value();
      } catch (...) {
        done->set_exception(std::current_exception());
      }
    });
    result.get();
  };
  m_pusher = std::make_unique<hub::Pusher>(m_options.database, m_cfg.hub, write, m_metrics.hub,
                                           [](const std::string& line) { log("{}", line); });
  // Office top-ups are sales: they go through the writer as billing's own jobs do, so that
  // billing sees the new balance (post, not post_outside_billing).
  // They bill with the configuration the writer has then (a SIGHUP may have changed it).
  m_pusher->set_sell([this](const hub::Intent& intent) {
    auto sale = std::make_shared<std::promise<hub::Pusher::Sale>>();
    auto result = sale->get_future();
    m_writer->post([this, sale, intent](storage::Database& db) {
      try {
        sale->set_value(apply_intent(db, m_writer->config(), intent, now()));
      } catch (...) {
        sale->set_exception(std::current_exception());
      }
    });
    return result.get();
  });
  m_pusher->start();
  log("hub: pushing to the hub as site {} in batches of {}", m_cfg.hub.site_id, m_cfg.hub.batch);
}

void Daemon::Impl::start_metrics() {
  if (m_cfg.metrics.listen.empty()) {
    m_metrics_server.reset();
    return;
  }
  try {
    m_metrics_server.reset();
    m_metrics_server = std::make_unique<MetricsServer>(m_io, m_cfg.metrics.listen, m_metrics);
    auto ep = m_metrics_server->endpoint();
    log("metrics on http://{}:{}/metrics", ep.address().to_string(), ep.port());
  } catch (const Error& e) {
    log("metrics off: {}", e.what());
  }
}

void Daemon::Impl::apply_roster(Roster roster) {
  for (const auto& line : roster.problems) log("{}", line);
  for (auto& [id, p] : m_pollers) p->abort();
  m_pollers.clear();
  m_meter_gateway.clear();
  m_meter_names.clear();
  std::unordered_map<std::int64_t, MeterHealth> health;
  std::map<std::int64_t, GatewayHealth> gateway_health;
  m_meters = 0;
  flush_held_events();
  std::map<DeviceKey, std::vector<std::int64_t>> circuits;
  for (auto& g : roster.gateways) {
    gateway_health[g.id] = m_gateway_health.count(g.id) ? m_gateway_health[g.id] : GatewayHealth(g.status);
    for (const auto& m : g.meters) {
      m_meter_gateway[m.id] = g.id;
      m_meter_names[m.id] = m.name;
      auto it = m_health.find(m.id);
      health[m.id] = it != m_health.end() ? it->second : MeterHealth(m.status, m.failed_polls);
      if (!m.device.empty()) circuits[{g.id, m.device}].push_back(m.id);
      ++m_meters;
    }
    const auto id = g.id;
    auto bus = make_transport_bus(m_io, g.spec);
    m_pollers[id] = std::make_shared<GatewayPoller>(m_io, std::move(g), std::move(bus), settings(), *this, m_seed++);
  }
  m_health = std::move(health);
  m_gateway_health = std::move(gateway_health);
  // A device starts as its circuits are: offline when all are (its event then covers them all),
  // online when one is.
  std::map<DeviceKey, DeviceHealth> device_health;
  for (const auto& [key, ids] : circuits) {
    if (auto it = m_device_health.find(key); it != m_device_health.end()) {
      device_health[key] = it->second;
      continue;
    }
    std::size_t online = 0, offline = 0;
    for (auto id : ids) {
      online += m_health[id].status() == Status::online;
      offline += m_health[id].status() == Status::offline;
    }
    DeviceHealth h;
    h.update(online, offline, ids.size());
    device_health[key] = h;
    if (h.status() == Status::offline) m_device_covered.insert(ids.begin(), ids.end());
  }
  m_device_circuits = std::move(circuits);
  m_device_health = std::move(device_health);
  recount();
}

void Daemon::Impl::recount() {
  std::uint64_t online = 0, offline = 0, unknown = 0;
  for (const auto& [id, h] : m_health) {
    if (h.status() == Status::online) ++online;
    else if (h.status() == Status::offline) ++offline;
    else ++unknown;
  }
  m_offline = offline;
  m_metrics.meters_online = online;
  m_metrics.meters_offline = offline;
  m_metrics.meters_unknown = unknown;
}

void Daemon::Impl::update_status() {
  std::string text = fmt::format("polling {} of {} meters, {} offline", m_meters - m_offline, m_meters, m_offline);
  if (text == m_last_status) return;
  m_last_status = text;
  m_notifier.status(text);
}

void Daemon::Impl::arm_cycle() {
  const EpochMs next = next_cycle(std::max(now_ms(), m_last_cycle), m_cfg.poll.interval);
  m_cycle_timer.expires_at(std::chrono::system_clock::time_point(std::chrono::milliseconds(next)));
  m_cycle_timer.async_wait([this, next](boost::system::error_code ec) {
    if (ec || m_phase != Phase::polling) return;
    m_last_cycle = next;
    m_metrics.cycles.fetch_add(1, std::memory_order_relaxed);
    const UnixTime t = static_cast<UnixTime>(next / 1000);
    const auto window = spread_window(m_cfg.poll.interval);
    for (auto& [id, p] : m_pollers) p->start_cycle(t, window);
    update_status();
    arm_cycle();
  });
}

void Daemon::Impl::arm_command_check() {
  m_command_timer.expires_after(k_command_check);
  m_command_timer.async_wait([this](boost::system::error_code ec) {
    if (ec || m_phase != Phase::polling) return;
    if (!m_claiming) claim_commands();
    arm_command_check();
  });
}

// Asks the writer thread for the due commands; they come back to the event loop.
void Daemon::Impl::claim_commands() {
  m_claiming = true;
  m_writer->post([this](storage::Database& db) {
    std::vector<QueuedCommand> commands;
    try {
      commands = claim_due_commands(db, now(), k_commands_per_claim);
    } catch (const Error& e) {
      log("commands not read: {}", e.what());
    }
    asio::post(m_io, [this, commands = std::move(commands)]() mutable {
      m_claiming = false;
      if (m_phase == Phase::once_commands && commands.empty() && m_commands_in_flight == 0) {
        finish();
        return;
      }
      dispatch(std::move(commands));
    });
  });
}

void Daemon::Impl::dispatch(std::vector<QueuedCommand> commands) {
  for (auto& c : commands) {
    ++m_commands_in_flight;
    auto g = m_meter_gateway.find(c.meter_id);
    auto p = g == m_meter_gateway.end() ? m_pollers.end() : m_pollers.find(g->second);
    if (p == m_pollers.end() || m_phase == Phase::stopping) {
      command_done(c, CommandOutcome{false, m_phase == Phase::stopping ? "kwhd is stopping" :
                                     "kwhd does not poll this meter (removed, bad profile, or added since the last "
                                     "reload)", {}, false});
      continue;
    }
    p->second->queue_command(std::move(c));
  }
}

void Daemon::Impl::command_done(const QueuedCommand& c, const CommandOutcome& o) {
  --m_commands_in_flight;
  auto name_it = m_meter_names.find(c.meter_id);
  std::string meter = name_it != m_meter_names.end() ? name_it->second : fmt::format("id {}", c.meter_id);
  if (o.ok)
    log("command {} {} for meter {} done (read back {})", c.id, c.action, meter, o.readback);
  else
    log("command {} {} for meter {} failed (attempt {} of {}): {}", c.id, c.action, meter, c.attempts,
        k_command_attempts, o.error);
  m_writer->post([this, c, o](storage::Database& db) {
    auto result = finish_command(db, c, o, now());
    m_metrics.count_command(result);
    if (result == CommandResult::failed && !o.ok) log("command {} {} given up: {}", c.id, c.action, o.error);
    asio::post(m_io, [this] {
      if (m_phase == Phase::once_commands && m_commands_in_flight == 0 && !m_claiming) claim_commands();
    });
  });
}

void Daemon::Impl::polled(const GatewayTarget& gateway, const MeterTarget& meter, PollOutcome o) {
  m_metrics.count_poll(o.result);
  if (o.seconds > 0) m_metrics.poll_duration.observe(o.seconds);
  if (o.stale_replies > 0) m_metrics.stale_replies.fetch_add(o.stale_replies, std::memory_order_relaxed);
  auto& h = m_health[meter.id];
  const int before = h.failed_polls();
  PollRecord rec;
  rec.meter_id = meter.id;
  rec.gateway_id = gateway.id;
  rec.time = now();
  std::optional<Status> change;
  const std::string where =
      meter.address.empty() ? fmt::format("unit {}", meter.unit) : fmt::format("address {}", meter.address);
  const bool circuit = !meter.device.empty();
  if (o.reading) {
    change = h.succeeded();
    rec.reading = std::move(o.reading);
    if (change) rec.detail = fmt::format("gateway {} {} answers", gateway.name, where);
    // Back with its device: the device's device_online says so, unless it had an event of its own.
    if (change && circuit && m_device_covered.erase(meter.id)) rec.quiet = true;
  } else {
    change = h.failed(m_cfg.poll.offline_after);
    rec.detail = fmt::format("gateway {} {}: {}", gateway.name, where, o.error);
    if (before == 0 && !change) log("meter {} not read ({}), 1 failed poll", meter.name, rec.detail);
  }
  rec.failed_polls = h.failed_polls();
  rec.failed_polls_changed = before != h.failed_polls();
  if (change) {
    rec.status = change;
    log("meter {} {} ({})", meter.name, status_name(*change), rec.detail);
    if (circuit && *change == Status::offline) {
      // Its own meter_offline waits: when the whole device is offline, one device_offline says it.
      rec.quiet = true;
      m_held_events[{gateway.id, meter.device}].push_back(
          EventRecord{rec.time, "meter_offline", gateway.id, meter.id, rec.detail});
    }
  }
  m_writer->add(std::move(rec));
  if (circuit) update_device(gateway, meter.device, o.device_done);
  if (!change) return;
  recount();
  // The gateway: offline when every one of its meters is, online when one answers.
  auto p = m_pollers.find(gateway.id);
  if (p == m_pollers.end()) return;
  std::size_t online = 0, offline = 0;
  for (const auto& m : p->second->target().meters) {
    auto s = m_health[m.id].status();
    online += s == Status::online;
    offline += s == Status::offline;
  }
  const auto total = p->second->target().meters.size();
  if (auto g = m_gateway_health[gateway.id].update(online, offline, total)) {
    GatewayRecord gr{gateway.id, *g, now(),
                     *g == Status::offline ? fmt::format("all {} meters offline", total)
                                           : fmt::format("{} of {} meters answer", online, total)};
    log("gateway {} {} ({})", gateway.name, status_name(*g), gr.detail);
    m_writer->add(std::move(gr));
  }
  if (m_phase == Phase::polling) update_status();
}

void Daemon::Impl::update_device(const GatewayTarget& gateway, const std::string& device, bool done) {
  const DeviceKey key{gateway.id, device};
  const auto& ids = m_device_circuits[key];
  std::size_t online = 0, offline = 0;
  for (auto id : ids) {
    auto s = m_health[id].status();
    online += s == Status::online;
    offline += s == Status::offline;
  }
  if (auto d = m_device_health[key].update(online, offline, ids.size())) {
    DeviceRecord dr{gateway.id, device, *d, now(),
                    *d == Status::offline ? fmt::format("device {}: {} circuits offline", device, ids.size())
                                          : fmt::format("device {}: {} of {} circuits answer", device, online, ids.size())};
    log("gateway {} device {} {} ({})", gateway.name, device, status_name(*d), dr.detail);
    if (*d == Status::offline) {
      m_device_covered.insert(ids.begin(), ids.end());
      m_held_events.erase(key);
    }
    m_writer->add(std::move(dr));
  }
  if (!done) return;
  // The device's polls of this cycle are over and it is not all offline: the circuits that went
  // offline alone get their own events.
  if (auto it = m_held_events.find(key); it != m_held_events.end()) {
    for (auto& e : it->second) m_writer->add(std::move(e));
    m_held_events.erase(it);
  }
}

void Daemon::Impl::flush_held_events() {
  for (auto& [key, events] : m_held_events)
    for (auto& e : events) m_writer->add(std::move(e));
  m_held_events.clear();
}

bool Daemon::Impl::all_idle() const {
  for (const auto& [id, p] : m_pollers)
    if (!p->idle()) return false;
  return true;
}

void Daemon::Impl::idle(const GatewayTarget&) {
  if (m_phase == Phase::once_polls) {
    if (all_idle()) asio::post(m_io, [this] {
        if (m_phase == Phase::once_polls && all_idle()) after_once_polls();
      });
  } else if (m_phase == Phase::stopping) {
    if (all_idle() && m_commands_in_flight == 0) asio::post(m_io, [this] { finish(); });
  }
}

// --once: the readings are queued to the writer; the claim that follows them in its queue
// sees the commands that billing just queued.
void Daemon::Impl::after_once_polls() {
  m_phase = Phase::once_commands;
  claim_commands();
}

void Daemon::Impl::wait_signals() {
  if (!m_signals_added) {
    m_signals.add(SIGTERM);
    m_signals.add(SIGINT);
    m_signals.add(SIGHUP);
    m_signals_added = true;
  }
  m_signals.async_wait([this](boost::system::error_code ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      reload();
      wait_signals();
    } else {
      begin_stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
    }
  });
}

void Daemon::Impl::reload() {
  if (m_phase != Phase::polling) return;
  log("SIGHUP: reloading the configuration and the gateways and meters");
  m_notifier.reloading();
  config::Config cfg;
  try {
    cfg = config::load(m_options.config_path);
    config::check_for_daemon(cfg);
  } catch (const Error& e) {
    log("configuration not reloaded, keeping the old one: {}", e.what());
    m_notifier.ready();
    return;
  }
  if (cfg.timezone != m_cfg.timezone) {
    log("the time zone change takes effect when kwhd restarts");
    cfg.timezone = m_cfg.timezone;
  }
  const bool metrics_changed = cfg.metrics.listen != m_cfg.metrics.listen;
  const bool hub_changed = cfg.hub.url != m_cfg.hub.url || cfg.hub.site_id != m_cfg.hub.site_id ||
                           cfg.hub.batch != m_cfg.hub.batch || cfg.hub.retry != m_cfg.hub.retry ||
                           cfg.hub.retry_max != m_cfg.hub.retry_max || cfg.hub.interval != m_cfg.hub.interval ||
                           cfg.hub.usage_every != m_cfg.hub.usage_every;
  m_cfg = cfg;
  m_writer->set_config(cfg);
  if (m_upkeep) m_upkeep->set_config(cfg);
  if (m_hooks) m_hooks->set_config(cfg);
  if (metrics_changed) start_metrics();
  if (hub_changed) start_pusher();
  m_writer->post([this, cfg](storage::Database& db) {
    auto roster = std::make_shared<Roster>(load_roster(db, cfg));
    asio::post(m_io, [this, roster] {
      if (m_phase != Phase::polling) return;
      log("{} on {}, polled every {}", count_of(roster->meter_count(), "meter"), count_of(roster->gateways.size(), "gateway"),
          format_duration(m_cfg.poll.interval));
      apply_roster(std::move(*roster));
      m_cycle_timer.cancel();
      arm_cycle();
      update_status();
      m_notifier.ready();
    });
  });
}

void Daemon::Impl::begin_stop(const char* why) {
  if (m_phase == Phase::stopping || m_phase == Phase::done) return;
  log("{}: stopping; finishing what is on the buses and writing what was read", why);
  m_phase = Phase::stopping;
  m_notifier.stopping();
  if (m_upkeep) m_upkeep->stop();
  if (m_hooks) m_hooks->halt();
  m_cycle_timer.cancel();
  m_command_timer.cancel();
  for (auto& [id, p] : m_pollers) p->drain();
  if (all_idle() && m_commands_in_flight == 0) {
    asio::post(m_io, [this] { finish(); });
    return;
  }
  // What is still on a bus after the grace time is given up, so kwhd exits within 5 s.
  m_stop_timer.expires_after(k_stop_grace);
  m_stop_timer.async_wait([this](boost::system::error_code ec) {
    if (!ec) finish();
  });
}

void Daemon::Impl::finish() {
  if (m_phase == Phase::done) return;
  m_phase = Phase::done;
  for (auto& [id, p] : m_pollers) p->abort();
  flush_held_events();
  m_cycle_timer.cancel();
  m_command_timer.cancel();
  m_watchdog_timer.cancel();
  m_stop_timer.cancel();
  boost::system::error_code ec;
  m_signals.cancel(ec);
  if (m_metrics_server) m_metrics_server->stop();
  m_work.reset();
  m_io.stop();
}

void Daemon::Impl::arm_watchdog() {
  auto period = m_notifier.watchdog_period();
  if (!period) return;
  m_watchdog_timer.expires_after(*period);
  m_watchdog_timer.async_wait([this](boost::system::error_code ec) {
    if (ec || m_phase == Phase::done) return;
    // WATCHDOG=1 only while the writer thread keeps up: a wedged database write should get
    // kwhd restarted, not hidden by a healthy event loop.
    const auto now = now_ms();
    const auto beat = m_writer_beat.load();
    if (beat == 0 || now - beat < k_writer_stall_ms) m_notifier.watchdog();
    m_writer->post([this](storage::Database&) { m_writer_beat = now_ms(); });
    arm_watchdog();
  });
}

} // namespace kwh::daemon
