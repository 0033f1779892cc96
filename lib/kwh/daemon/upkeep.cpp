#include <kwh/daemon/upkeep.hpp>

#include <kwh/billing/debt.hpp>
#include <kwh/billing/standing.hpp>
#include <kwh/daemon/log.hpp>
#include <kwh/readings/maintenance.hpp>
#include <kwh/site/command.hpp>

#include <boost/asio/post.hpp>

namespace kwh::daemon {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct UpkeepRun {
  readings::Policy policy;
  readings::Stats stats;
  double longest = 0;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

namespace {

constexpr auto k_check_every = 60s;
constexpr auto k_compact_every = 10min;

readings::Policy policy_of(const config::Config& cfg) {
  readings::Policy p;
  if (cfg.retention.raw) p.raw = cfg.retention.raw->count();
  p.thin_to = cfg.retention.thin_to.count();
  if (cfg.retention.events) p.events = cfg.retention.events->count();
  return p;
}

} // namespace

Upkeep::Upkeep(asio::io_context& io, Writer& writer, Metrics& metrics, const config::Config& cfg,
               std::function<std::vector<std::int64_t>()> clock_meters)
    : m_io(io), m_writer(writer), m_metrics(metrics), m_cfg(cfg), m_timer(io), m_clock_meters(std::move(clock_meters)) {}

void Upkeep::start() {
  // The day of the last prune, from the database, before the first check.
  m_writer.post([this](storage::Database& db) {
    std::optional<std::string> pruned, synced;
    try {
      auto st = db.prepare("SELECT value FROM settings WHERE key = 'retention_pruned'");
      if (st.step()) pruned = st.get_text(0);
      auto sy = db.prepare("SELECT value FROM settings WHERE key = 'clocks_synced'");
      if (sy.step()) synced = sy.get_text(0);
    } catch (const Error& e) {
      log("upkeep: {}", e.what());
    }
    asio::post(m_io, [this, pruned, synced] {
      m_pruned = pruned;
      m_clocks_synced = synced;
      m_loaded = true;
      arm(5s);
    });
  });
}

void Upkeep::stop() {
  m_stopping = true;
  m_timer.cancel();
}

void Upkeep::arm(std::chrono::seconds after) {
  m_timer.expires_after(after);
  m_timer.async_wait([this](boost::system::error_code ec) {
    if (ec || m_stopping) return;
    check();
    arm(k_check_every);
  });
}

void Upkeep::sync_clocks(const std::string& today) {
  m_clocks_synced = today;
  auto ids = m_clock_meters ? m_clock_meters() : std::vector<std::int64_t>{};
  m_writer.post([today, ids = std::move(ids)](storage::Database& db) {
    try {
      storage::Transaction tx(db);
      int queued = 0;
      auto& pending = db.cached("SELECT 1 FROM commands WHERE meter_id = ?1 AND action = 'sync_time' "
                                "AND state IN ('pending', 'running')");
      for (auto id : ids) {
        pending.bind(1, id);
        const bool has = pending.step();
        pending.reset();
        if (has) continue;
        site::queue_command(db, site::NewCommand{id, "sync_time", std::nullopt, "schedule", "kwhd", std::nullopt});
        ++queued;
      }
      db.prepare("INSERT INTO settings(key, value) VALUES ('clocks_synced', ?1) "
                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
          .bind_all(today)
          .run();
      tx.commit();
      log("time sync: queued for {} meters ([poll] sync_time)", queued);
    } catch (const Error& e) {
      log("time sync not queued: {}", e.what());
    }
  });
}

// A job billing must see (post, not post_outside_billing): it changes balances.
void Upkeep::charge_standing(const std::string& today) {
  m_standing_charged = today;
  m_writer.post([cfg = m_cfg](storage::Database& db) {
    try {
      storage::Transaction tx(db);
      const std::int64_t charged = billing::charge_standing_all(db, cfg, now());
      // The fixed recoveries of debts fall due with them.
      const std::int64_t recovered = billing::charge_debts_due(db, cfg, now());
      tx.commit();
      if (charged > 0)
        log("standing charges: {} charged to accounts that no reading had charged yet",
            Money::from_minor(charged).format(cfg.minor_units));
      if (recovered > 0)
        log("debts: {} recovered by their weekly or monthly amounts", Money::from_minor(recovered).format(cfg.minor_units));
    } catch (const Error& e) {
      log("standing charges not charged: {}; trying again tomorrow or at the next reading", e.what());
    }
  });
}

void Upkeep::check() {
  if (!m_loaded) return;
  const UnixTime t = now();
  const auto local = to_local(t);
  const std::string today = format_date(t);
  if (m_standing_charged != today) charge_standing(today);
  if (m_cfg.poll.sync_time && local.hour * 60 + local.minute >= *m_cfg.poll.sync_time && m_clocks_synced != today)
    sync_clocks(today);
  if (m_running) return;
  const bool daily = local.hour * 60 + local.minute >= m_cfg.retention.prune_at_minute && m_pruned != today;
  const auto steady = std::chrono::steady_clock::now();
  if (!daily && m_last_compaction && steady - *m_last_compaction < k_compact_every) return;
  m_running = true;
  m_last_compaction = steady;
  if (daily) {
    m_pruned = today;
    log("pruning the readings and events ([retention] raw {}, thin_to {}, events {})",
        m_cfg.retention.raw ? format_duration(*m_cfg.retention.raw) : std::string("forever"),
        format_duration(m_cfg.retention.thin_to),
        m_cfg.retention.events ? format_duration(*m_cfg.retention.events) : std::string("forever"));
  }
  auto run = std::make_shared<UpkeepRun>();
  run->policy = policy_of(m_cfg);
  step(static_cast<int>(readings::Phase::compact), daily, run);
}

// One step on the writer thread; the next is posted after it, so that the writer's own batches
// go in between.
void Upkeep::step(int phase_number, bool daily, std::shared_ptr<UpkeepRun> run) {
  m_writer.post_outside_billing([this, phase_number, daily, run](storage::Database& db) {
    auto phase = static_cast<readings::Phase>(phase_number);
    const auto started = std::chrono::steady_clock::now();
    const readings::Stats before = run->stats;
    readings::Phase next = readings::Phase::done;
    try {
      if (phase == readings::Phase::vacuum) {
        next = readings::prune_step(db, phase, run->policy, now(), run->stats, false);
      } else {
        storage::Transaction tx(db);
        next = readings::prune_step(db, phase, run->policy, now(), run->stats, false);
        tx.commit();
      }
      if (daily && next == readings::Phase::done) {
        storage::Transaction tx(db);
        db.prepare("INSERT INTO settings(key, value) VALUES ('retention_pruned', ?1) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(1, format_date(now()))
            .run();
        tx.commit();
      }
    } catch (const Error& e) {
      log("upkeep: {}; trying again at the next check", e.what());
      next = readings::Phase::done;
      if (daily) asio::post(m_io, [this] { m_pruned.reset(); });
    }
    const double held = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    m_metrics.upkeep_write.observe(held);
    run->longest = std::max(run->longest, held);
    m_metrics.readings_pruned.fetch_add(run->stats.readings_removed - before.readings_removed, std::memory_order_relaxed);
    m_metrics.events_pruned.fetch_add(run->stats.events_removed - before.events_removed, std::memory_order_relaxed);
    // Ten-minutely runs only compact.
    if (!daily && next != readings::Phase::compact) next = readings::Phase::done;
    if (next != readings::Phase::done && !m_stopping) {
      step(static_cast<int>(next), daily, run);
      return;
    }
    if (daily || run->stats.rows_compacted > 0) {
      const auto& s = run->stats;
      log("{}: {} recent readings moved into blocks, {} readings thinned away ({} kept), {} events removed, about "
          "{:.1f} MB freed, in {} steps over {:.1f} s (the longest transaction {:.0f} ms)",
          daily ? "pruned" : "compacted", s.rows_compacted, s.readings_removed, s.readings_kept, s.events_removed,
          static_cast<double>(std::max<std::int64_t>(s.bytes_freed, 0)) / 1e6, s.steps,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - run->started).count(), run->longest * 1e3);
    }
    asio::post(m_io, [this] { m_running = false; });
  });
}

} // namespace kwh::daemon
