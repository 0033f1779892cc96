// A year of one site: `meters` meters with band registers polled every `interval` seconds for
// `days` days, stored and billed day by day as kwhd's store would (billing::Biller into
// compressed blocks, one transaction a day), two top-ups a month per account, and kwhd's daily
// prune with [retention] raw = `raw` (thin_to 1h, events 2y). Then it prints one table:
//   readings ingested per second; stored readings and bytes per stored reading (readings and
//   reading_blocks with their indexes, from dbstat, and the whole file); ledger rows per
//   account-day against (meters x bands + payments) of that day; the database's size; the
//   write transactions of the prunes (p99 and longest: what kwhd's lock is held for); and the
//   time of `kwh report energy --by month` and `kwh report statement` over the year.
//
// Usage: bench_year KWH [meters=2000] [interval=60] [days=365] [raw=90d|forever]
// The database goes to $TMPDIR (a few GB); KEEP=1 keeps it.

#include "bench_site.hpp"

#include <kwh/billing/biller.hpp>
#include <kwh/readings/maintenance.hpp>
#include <kwh/readings/store.hpp>

#include <fmt/os.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

using namespace kwh;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::int64_t query(storage::Database& db, const std::string& sql) {
  auto st = db.prepare(sql);
  st.step();
  return st.get_int(0);
}

double run_kwh(const std::string& kwh, const std::string& db, const std::string& config, const std::string& args) {
  auto t0 = Clock::now();
  std::string cmd = fmt::format("'{}' --db '{}' --config '{}' {} >/dev/null", kwh, db, config, args);
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
  return seconds_since(t0);
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: bench_year KWH [meters=2000] [interval=60] [days=365] [raw=90d|forever]\n");
    return 64;
  }
  const std::string kwh = argv[1];
  const int meters = argc > 2 ? std::atoi(argv[2]) : 2000;
  const int interval = argc > 3 ? std::atoi(argv[3]) : 60;
  const int days = argc > 4 ? std::atoi(argv[4]) : 365;
  const std::string raw = argc > 5 ? argv[5] : "90d";
  set_site_timezone(bench::k_zone);

  std::string tmpl = (fs::temp_directory_path() / "kwh-year-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  const fs::path dir = tmpl;
  const std::string path = (dir / "kwh.db").string(), config_path = (dir / "kwh.toml").string();
  {
    auto f = fmt::output_file(config_path);
    f.print("timezone = \"{}\"\n[retention]\nraw = \"{}\"\n", bench::k_zone, raw);
  }
  config::Config cfg = config::load_file(config_path);
  readings::Policy policy;
  if (cfg.retention.raw) policy.raw = cfg.retention.raw->count();
  policy.thin_to = cfg.retention.thin_to.count();
  if (cfg.retention.events) policy.events = cfg.retention.events->count();

  const UnixTime first_day = from_local(2025, 1, 1);
  auto db = storage::Database::open(path, storage::OpenMode::create);
  bench::make_site(*db, cfg, meters, first_day, 500'000);
  db->exec("PRAGMA cache_size = -262144");
  fmt::print("a year of a site: {} meters with band registers every {} s for {} days, [retention] raw = {}\n", meters,
             interval, days, raw);

  std::vector<bench::Meter> state(static_cast<std::size_t>(meters) + 1);
  UnixTime sim_now = first_day;
  double ingest_s = 0, prune_s = 0;
  std::uint64_t ingested = 0, payments = 0;
  std::vector<double> holds; // prune write transactions, seconds
  readings::Stats pruned;
  for (int d = 0; d < days; ++d) {
    const UnixTime day = add_local_days(first_day, d);
    const UnixTime next = add_local_days(day, 1);
    auto t0 = Clock::now();
    {
      storage::Transaction tx(*db);
      readings::BlockWriter blocks(*db);
      billing::Biller biller(*db, cfg);
      biller.store_into(&blocks);
      biller.set_clock([&] { return sim_now; });
      billing::Reading r;
      for (UnixTime t = day + interval; t <= next; t += interval) {
        sim_now = t;
        for (int i = 1; i <= meters; ++i) {
          auto& m = state[static_cast<std::size_t>(i)];
          const auto w = bench::advance(m, i, t, interval);
          r.meter_id = i;
          r.time = t;
          r.value = m.energy;
          r.sharp = m.bands[0], r.peak = m.bands[1], r.flat = m.bands[2], r.valley = m.bands[3];
          r.power = w;
          biller.ingest(r);
          ++ingested;
        }
      }
      // Two top-ups a month: on the 1st and the 15th, at 10:00.
      const auto local = to_local(day);
      if (local.day == 1 || local.day == 15) {
        for (int i = 1; i <= meters; ++i) {
          billing::PaymentRequest p;
          p.account = fmt::format("A{:05}", i);
          p.amount = Money::from_minor(bench::base_watts(i) * 24 * 15 * 12 / 100 * 12 / 10);
          p.method = i % 2 ? "cash" : "card";
          p.operator_name = "cashier";
          p.time = day + 10 * 3600;
          billing::post_payment_in(*db, cfg, p);
          ++payments;
        }
      }
      sim_now = next + billing::Biller::k_day_grace;
      biller.post_days_over();
      blocks.finish();
      tx.commit();
    }
    ingest_s += seconds_since(t0);
    // kwhd's daily prune, at 03:00 of the next day.
    t0 = Clock::now();
    // The WAL is checkpointed between the steps, as kwhd's automatic checkpoint does after a
    // commit has released the write lock: the steps' times are the lock's.
    db->exec("PRAGMA wal_autocheckpoint = 0");
    auto s = readings::prune(*db, policy, next + 3 * 3600, false,
                             [&](readings::Phase, const readings::Stats&) { db->exec("PRAGMA wal_checkpoint(PASSIVE)"); },
                             &holds);
    db->exec("PRAGMA wal_autocheckpoint = 1000");
    pruned.readings_removed += s.readings_removed, pruned.events_removed += s.events_removed;
    pruned.steps += s.steps;
    prune_s += seconds_since(t0);
    if ((d + 1) % 30 == 0 || d + 1 == days)
      fmt::print("  day {:>3}: {} readings ingested at {:.0f}/s; database {:.2f} GB\n", d + 1, ingested,
                 ingested / ingest_s, static_cast<double>(fs::file_size(path)) / 1e9);
  }
  db->exec("PRAGMA wal_checkpoint(TRUNCATE)");

  // What is stored, and what it takes.
  const std::int64_t stored = readings::count(*db);
  const std::int64_t file = static_cast<std::int64_t>(fs::file_size(path));
  const std::int64_t reading_bytes =
      query(*db, "SELECT sum(pgsize) FROM dbstat WHERE name IN ('readings', 'reading_blocks', 'reading_blocks_raw', "
                 "'sqlite_autoindex_readings_1', 'sqlite_autoindex_reading_blocks_1')");
  const std::int64_t ledger_rows = query(*db, "SELECT count(*) FROM ledger");
  // Ledger rows per account and site-local day (UTC+8), against the bound: bands charged + payments.
  const std::int64_t worst_day = query(*db, "SELECT max(n) FROM (SELECT count(*) AS n FROM ledger GROUP BY account_id, "
                                            "(time + 8 * 3600) / 86400)");
  // A day whose charge rows are more than its (meter, band) pairs: a band charged twice.
  const std::int64_t over_bound = query(
      *db, "SELECT count(*) FROM (SELECT sum(kind = 'charge') AS c, count(DISTINCT CASE WHEN kind = 'charge' THEN "
           "meter_id || '/' || band END) AS mb FROM ledger GROUP BY account_id, (time + 8 * 3600) / 86400) WHERE c > mb");
  const double account_days = static_cast<double>(meters) * days;
  std::sort(holds.begin(), holds.end());
  const double p99 = holds.empty() ? 0 : holds[std::min(holds.size() - 1, holds.size() * 99 / 100)];
  db.reset();

  const std::string from = format_date(first_day), to = format_date(add_local_days(first_day, days - 1));
  const double energy_s = run_kwh(kwh, path, config_path, fmt::format("report energy --by month --from {} --to {}", from, to));
  const double statement_s =
      run_kwh(kwh, path, config_path, fmt::format("report statement --account A00001 --from {} --to {}", from, to));

  fmt::print("\n{:<58} {:>16}\n", "figure", "value");
  auto row = [](const std::string& what, const std::string& value) { fmt::print("{:<58} {:>16}\n", what, value); };
  row("readings ingested (stored and billed)", fmt::format("{}", ingested));
  row("readings ingested per second", fmt::format("{:.0f}", ingested / ingest_s));
  row("readings stored at the end (after retention)", fmt::format("{}", stored));
  row("bytes per stored reading: readings and blocks, indexes too", fmt::format("{:.1f}", double(reading_bytes) / stored));
  row("bytes per stored reading: the whole file", fmt::format("{:.1f}", double(file) / stored));
  row("bytes per ingested reading: the whole file", fmt::format("{:.2f}", double(file) / ingested));
  row("database size (GB)", fmt::format("{:.2f}", file / 1e9));
  row("ledger rows", fmt::format("{}", ledger_rows));
  row("ledger rows per account-day: average", fmt::format("{:.2f}", ledger_rows / account_days));
  row("ledger rows per account-day: most", fmt::format("{}", worst_day));
  row("account-days with more rows than meters x bands + payments", fmt::format("{}", over_bound));
  row("payments", fmt::format("{}", payments));
  row("readings thinned away / events removed", fmt::format("{} / {}", pruned.readings_removed, pruned.events_removed));
  row("prunes: seconds in all", fmt::format("{:.1f}", prune_s));
  row("prune write transaction p99 / longest (ms)", fmt::format("{:.1f} / {:.1f}", p99 * 1e3, holds.empty() ? 0 : holds.back() * 1e3));
  row("kwh report energy --by month, the year (s)", fmt::format("{:.2f}", energy_s));
  row("kwh report statement --account A00001, the year (s)", fmt::format("{:.2f}", statement_s));
  std::error_code ec;
  if (!std::getenv("KEEP")) fs::remove_all(dir, ec);
  else fmt::print("kept {}\n", path);
  return 0;
}
