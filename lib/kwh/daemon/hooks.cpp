#include <kwh/daemon/hooks.hpp>

#include <kwh/daemon/log.hpp>
#include <kwh/hooks/collector.hpp>
#include <kwh/hooks/delivery.hpp>
#include <kwh/hooks/program.hpp>

#include <boost/asio/post.hpp>

namespace kwh::daemon {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto k_check_every = 1s;
// Recording an outcome waits this many busy timeouts for the lock before it gives up (and the
// delivery runs again later): losing it would send the event twice.
constexpr int k_record_tries = 20;

} // namespace

HookRunner::HookRunner(asio::io_context& io, Writer& writer, Metrics& metrics, const config::Config& cfg)
    : m_io(io), m_writer(writer), m_metrics(metrics), m_cfg(cfg), m_timer(io) {}

HookRunner::~HookRunner() { stop(); }

void HookRunner::start() {
  set_config(m_cfg);
  arm();
}

void HookRunner::set_config(const config::Config& cfg) {
  m_cfg = cfg;
  if (m_cfg.hooks.any()) return;
  // Configured again later, hooks start from then, not from when they were taken out.
  m_writer.post_outside_billing([](storage::Database& db) {
    storage::Transaction tx(db);
    hooks::forget_cursors(db);
    tx.commit();
  });
}

void HookRunner::arm() {
  m_timer.expires_after(k_check_every);
  m_timer.async_wait([this](boost::system::error_code ec) {
    if (ec || m_stopping) return;
    reap();
    if (!m_claiming && m_cfg.hooks.any()) claim();
    arm();
  });
}

void HookRunner::reap() {
  for (auto it = m_runs.begin(); it != m_runs.end();) {
    if (!it->done) {
      ++it;
      continue;
    }
    it->thread.join();
    it = m_runs.erase(it);
  }
}

// On the writer: collect what is new, then take the due deliveries up to max_running; back on
// the event loop, a thread for each.
void HookRunner::claim() {
  m_claiming = true;
  m_writer.post_outside_billing([this, cfg = m_cfg, running = m_running](storage::Database& db) {
    std::vector<hooks::Due> due;
    try {
      {
        storage::Transaction tx(db);
        hooks::collect(db, cfg, now());
        tx.commit();
      }
      const auto max = static_cast<std::size_t>(cfg.hooks.max_running);
      due = hooks::due(db, cfg, now(), max > running->size() ? max - running->size() : 0, *running);
      for (const auto& d : due) running->insert(d.id);
      m_metrics.hooks_pending = static_cast<std::uint64_t>(hooks::pending_count(db));
    } catch (const Error& e) {
      log("hooks: {}", e.what());
    }
    asio::post(m_io, [this, cfg, due = std::move(due)] {
      m_claiming = false;
      if (m_stopping) return; // they stay pending for the next start
      for (const auto& d : due) {
        const auto program = cfg.hooks.programs.find(d.kind);
        if (program == cfg.hooks.programs.end()) continue;
        auto& run = m_runs.emplace_back();
        run.thread = std::thread([this, &run, cfg, d, argv = program->second, running = m_running] {
          auto result = hooks::run_program(argv, d.payload, cfg.hooks.timeout,
                                           {fmt::format("KWH_HOOK_ID={}", d.id), "KWH_HOOK_KIND=" + d.kind});
          m_writer.post_outside_billing([this, cfg, d, argv, result, running](storage::Database& wdb) {
            std::string state;
            for (int attempt = 1; state.empty(); ++attempt) {
              try {
                storage::Transaction tx(wdb);
                state = hooks::record(wdb, cfg, d.id, hooks::program_text(argv), result.ok, result.error, now());
                m_metrics.hooks_pending = static_cast<std::uint64_t>(hooks::pending_count(wdb));
                tx.commit();
              } catch (const Error& e) {
                if (e.code() == Exit::temporary && attempt < k_record_tries) continue;
                log("hook {} {}: outcome not recorded ({}); it runs again", d.id, d.kind, e.what());
                break;
              }
            }
            running->erase(d.id);
            if (state == "sent") {
              m_metrics.hooks_sent.fetch_add(1, std::memory_order_relaxed);
              log("hook {} {} sent{}", d.id, d.kind, d.attempts ? fmt::format(" (attempt {})", d.attempts + 1) : "");
            } else if (state == "failed") {
              m_metrics.hooks_failed.fetch_add(1, std::memory_order_relaxed);
              log("hook {} {} failed, given up after {} attempts: {}", d.id, d.kind, d.attempts + 1, result.error);
            } else if (state == "pending") {
              m_metrics.hooks_retried.fetch_add(1, std::memory_order_relaxed);
              log("hook {} {} failed (attempt {}), tried again in {}: {}", d.id, d.kind, d.attempts + 1,
                  format_duration(cfg.hooks.retry[static_cast<std::size_t>(d.attempts)]), result.error);
            }
            // The next due ones need not wait for the timer.
            if (!m_stopping) asio::post(m_io, [this] {
                reap();
                if (!m_claiming && !m_stopping && m_cfg.hooks.any()) claim();
              });
          });
          run.done = true;
        });
      }
    });
  });
}

void HookRunner::halt() {
  m_stopping = true;
  m_timer.cancel();
}

void HookRunner::stop() {
  halt();
  for (auto& run : m_runs)
    if (run.thread.joinable()) run.thread.join();
  m_runs.clear();
}

} // namespace kwh::daemon
