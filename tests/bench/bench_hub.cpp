// The hub's ingest: SITES site databases of METERS meters each (bench_site.hpp), their outboxes
// filled as the triggers fill them when kwhd polls every minute (no Modbus: daily_usage upserted
// for every meter each minute, a sale and an event a minute, and the day-end charges of the
// day-aggregated ledger), then pushed by the real pusher (hub::Pusher::push_all, one thread and
// one connection per site, all sites at once) into one PostgreSQL.
//
//   commissioning  the rows of make_site (an account mark and an opening sale per account)
//   steady         MINUTES minutes pushed as kwhd pushes them: a claim between minutes, so
//                  every minute has a daily_usage mark per meter (what a pusher that keeps up
//                  sends: METERS rows a minute per site)
//   outage         OUTAGE minutes with the hub away (no claim: one mark per meter and day for
//                  the whole outage) ending with the site's midnight (3 charge entries per
//                  account), then drained
//
// Usage: bench_hub DIR URL [sites=20] [meters=5000] [minutes=3] [outage=60]. Run by
// bench_hub.sh, which starts the PostgreSQL and makes the hub's schema.
#include "bench_site.hpp"

#include <kwh/hub/pusher.hpp>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace kwh;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

constexpr UnixTime k_opened = 1780272000; // 2026-06-01 00:00 UTC
constexpr UnixTime k_hour = 3600;

UnixTime local_day(UnixTime t) { return ((t + 8 * k_hour) / 86400) * 86400 - 8 * k_hour; }

std::int64_t max_seq(storage::Database& db) {
  auto st = db.prepare("SELECT coalesce(max(seq), 0) FROM outbox");
  st.step();
  return st.get_int(0);
}

// One minute of a site at time t: every meter's day of usage grows (the biller's upsert), one
// sale, one event.
void minute(storage::Database& db, const config::Config& cfg, int meters, UnixTime t, int n) {
  auto& usage = db.cached("INSERT INTO daily_usage(day, meter_id, account_id, quantity, cost) VALUES (?1, ?2, ?3, ?4, "
                          "?5) ON CONFLICT(day, meter_id, account_id) DO UPDATE SET quantity = quantity + "
                          "excluded.quantity, cost = cost + excluded.cost");
  const UnixTime day = local_day(t);
  for (int i = 1; i <= meters; ++i) {
    const std::int64_t wh = bench::base_watts(i) / 60 + 1;
    usage.bind_all(day, i, i, wh, wh * 8 / 10).run();
  }
  billing::PaymentRequest r;
  r.account = fmt::format("A{:05}", n % meters + 1);
  r.amount = Money::from_minor(5'000);
  r.method = "cash";
  r.operator_name = "bench";
  r.time = t;
  billing::post_payment_in(db, cfg, r);
  db.cached("INSERT INTO events(time, kind, meter_id, detail) VALUES (?1, 'meter_offline', ?2, 'bench')")
      .bind_all(t, n % meters + 1)
      .run();
}

// The site's midnight: the accumulators posted as charge entries, one per account and band
// (peak, flat, valley), in the shape the ledger trigger gives them (ids after the ledger's).
void day_end(storage::Database& db, int meters, UnixTime t) {
  auto st = db.prepare("SELECT coalesce(max(id), 0) FROM ledger");
  st.step();
  std::int64_t id = st.get_int(0);
  st = storage::Statement();
  auto& ins = db.cached(
      "INSERT INTO outbox(kind, key, payload, time) VALUES ('ledger', ?1, json_object('id', ?1, 'account_id', ?2, "
      "'account', printf('A%05d', ?2), 'time', ?3, 'kind', 'charge', 'amount', -?4, 'balance', 1000000 - ?4, "
      "'receipt', NULL, 'method', NULL, 'ref', NULL, 'operator', NULL, 'meter_id', ?2, 'meter', printf('M%05d', ?2), "
      "'t0', ?3 - 86400, 't1', ?3, 'quantity', ?4, 'band', ?5, 'reverses', NULL, 'note', NULL, 'hash', "
      "lower(hex(randomblob(32))), 'accrued', NULL, 'debt_id', NULL), ?3)");
  const char* bands[] = {"peak", "flat", "valley"};
  for (int i = 1; i <= meters; ++i)
    for (const char* band : bands) ins.bind_all(++id, i, t, 1000 + i % 977, band).run();
}

struct Site {
  std::string path;
  std::string id;
  std::int64_t rows = 0; // pushed in the last phase
  std::string error;
};

// Pushes every site's outbox at once, one thread and connection each; returns the wall time.
double push_all(std::vector<Site>& sites, const config::Hub& base) {
  std::vector<std::thread> threads;
  const auto started = Clock::now();
  for (auto& site : sites) {
    threads.emplace_back([&site, &base] {
      try {
        auto rw = storage::Database::open(site.path);
        config::Hub cfg = base;
        cfg.site_id = site.id;
        hub::PushCounters counters;
        hub::Pusher pusher(
            site.path, cfg, [&](const std::function<void(storage::Database&)>& job) { job(*rw); }, counters,
            [](const std::string&) {});
        site.rows = pusher.push_all();
      } catch (const std::exception& e) {
        site.error = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  const double s = seconds_since(started);
  for (const auto& site : sites)
    if (!site.error.empty()) {
      fmt::print(stderr, "bench_hub: {}: {}\n", site.id, site.error);
      std::exit(1);
    }
  return s;
}

std::int64_t pushed(const std::vector<Site>& sites) {
  std::int64_t n = 0;
  for (const auto& s : sites) n += s.rows;
  return n;
}

// Runs fill(site index, database) for every site on `workers` threads.
template <typename F> double fill_all(std::vector<Site>& sites, int workers, F fill) {
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> threads;
  std::mutex failed;
  std::string error;
  const auto started = Clock::now();
  for (int w = 0; w < workers; ++w)
    threads.emplace_back([&] {
      for (std::size_t i; (i = next++) < sites.size();) {
        try {
          fill(i, sites[i]);
        } catch (const std::exception& e) {
          std::lock_guard lock(failed);
          error = fmt::format("{}: {}", sites[i].id, e.what());
        }
      }
    });
  for (auto& t : threads) t.join();
  if (!error.empty()) {
    fmt::print(stderr, "bench_hub: {}\n", error);
    std::exit(1);
  }
  return seconds_since(started);
}

} // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0); // progress lines as they come, through tee
  if (argc < 3) {
    fmt::print(stderr, "usage: bench_hub DIR URL [sites=20] [meters=5000] [minutes=3] [outage=60]\n");
    return 64;
  }
  const std::string dir = argv[1];
  config::Hub hub_cfg;
  hub_cfg.url = argv[2];
  const int n_sites = argc > 3 ? std::atoi(argv[3]) : 20;
  const int meters = argc > 4 ? std::atoi(argv[4]) : 5000;
  const int minutes = argc > 5 ? std::atoi(argv[5]) : 3;
  const int outage = argc > 6 ? std::atoi(argv[6]) : 60;
  const int workers = static_cast<int>(std::max(1u, std::min(4u, std::thread::hardware_concurrency())));
  config::Config cfg;

  std::vector<Site> sites(static_cast<std::size_t>(n_sites));
  for (int s = 0; s < n_sites; ++s) {
    sites[static_cast<std::size_t>(s)].path = fmt::format("{}/site{:02}.db", dir, s + 1);
    sites[static_cast<std::size_t>(s)].id = fmt::format("site{:02}", s + 1);
  }
  fmt::print("the hub: {} sites x {} meters polled every minute, pushed in batches of {} (one connection a site)\n",
             n_sites, meters, hub_cfg.batch);

  // Commissioning: the sites made, their first rows pushed.
  // The last minute of the outage is the site's midnight (00:00 in Asia/Shanghai, 16:00 UTC).
  const UnixTime start = k_opened + 16 * k_hour - (minutes + outage - 1) * 60;
  // One site made, the others copies of it, each with an epoch of its own (as kwh init makes).
  const auto made_at = Clock::now();
  {
    auto db = storage::Database::open(sites[0].path, storage::OpenMode::create);
    bench::make_site(*db, cfg, meters, k_opened, 1'000'000);
  }
  fill_all(sites, workers, [&](std::size_t i, Site& site) {
    if (i > 0) std::filesystem::copy_file(sites[0].path, site.path);
    auto db = storage::Database::open(site.path);
    db->exec("UPDATE settings SET value = lower(hex(randomblob(16))) WHERE key = 'hub.site_epoch'");
  });
  const double made = seconds_since(made_at);
  fmt::print("  {} sites made in {:.1f} s\n", n_sites, made);
  double s0 = push_all(sites, hub_cfg);
  const std::int64_t commissioning_rows = pushed(sites);
  fmt::print("  commissioning: {} rows pushed in {:.1f} s\n", commissioning_rows, s0);

  // Steady: MINUTES minutes, a claim after each, as a pusher that keeps up leaves them.
  UnixTime t = start;
  double filled = fill_all(sites, workers, [&](std::size_t i, Site& site) {
    auto db = storage::Database::open(site.path);
    for (int m = 0; m < minutes; ++m) {
      storage::Transaction tx(*db);
      minute(*db, cfg, meters, t + m * 60, static_cast<int>(i) * 1000 + m);
      db->cached("INSERT INTO settings(key, value) VALUES ('hub.claimed', ?1) ON CONFLICT(key) DO UPDATE SET value = "
                 "excluded.value")
          .bind(1, std::to_string(max_seq(*db)))
          .run();
      tx.commit();
    }
  });
  t += minutes * 60;
  fmt::print("  steady: {} minutes written at every site in {:.1f} s\n", minutes, filled);
  double s1 = push_all(sites, hub_cfg);
  const std::int64_t steady_rows = pushed(sites);
  const double steady_rate = steady_rows / s1;
  fmt::print("  steady: {} rows pushed in {:.1f} s\n", steady_rows, s1);

  // Outage: OUTAGE minutes with nothing claimed, the day's end at the last, then drained.
  filled = fill_all(sites, workers, [&](std::size_t i, Site& site) {
    auto db = storage::Database::open(site.path);
    for (int m = 0; m < outage; ++m) {
      storage::Transaction tx(*db);
      minute(*db, cfg, meters, t + m * 60, static_cast<int>(i) * 1000 + minutes + m);
      if (m == outage - 1) day_end(*db, meters, t + m * 60);
      tx.commit();
    }
  });
  fmt::print("  outage: {} minutes written at every site in {:.1f} s\n", outage, filled);
  double s2 = push_all(sites, hub_cfg);
  const std::int64_t outage_rows = pushed(sites);
  fmt::print("  outage: {} rows drained in {:.1f} s\n", outage_rows, s2);

  // Every row once: the outboxes' last seq at the hub (checked by bench_hub.sh with psql).
  std::int64_t total = 0;
  for (auto& site : sites) {
    auto db = storage::Database::open(site.path, storage::OpenMode::read_only);
    total += max_seq(*db);
  }

  const double need = static_cast<double>(n_sites) * meters / 60.0;
  fmt::print("\n{:<64} {:>14}\n", "figure", "value");
  auto row = [](const std::string& what, const std::string& value) { fmt::print("{:<64} {:>14}\n", what, value); };
  row("site rows written in all (the hub must hold as many)", fmt::format("{}", total));
  row("commissioning rows pushed per second (all sites at once)", fmt::format("{:.0f}", commissioning_rows / s0));
  row("steady rows a site makes per minute (a mark per meter)", fmt::format("{}", steady_rows / n_sites / minutes));
  row("rows per second the hub must take to keep up", fmt::format("{:.0f}", need));
  row("hub ingest rows per second (all sites at once)", fmt::format("{:.0f}", steady_rate));
  row("headroom (ingest / needed)", fmt::format("{:.1f}x", steady_rate / need));
  row(fmt::format("backlog after a {} min outage ending at midnight (rows)", outage), fmt::format("{}", outage_rows));
  row("backlog drain time (s)", fmt::format("{:.1f}", s2));
  row("backlog drain rows per second", fmt::format("{:.0f}", outage_rows / s2));
  return 0;
}
