// Ingest: readings stored and billed per second, by the two ways readings come in, on a site of
// 2 000 meters with band registers (tests/bench/bench_site.hpp):
//   - `kwh reading import`: billing::import_readings over a CSV of `cycles` one-minute polls of
//     every meter (parsing, checks, blocks, billing into accumulators, posting past days);
//   - kwhd's writer: daemon::Writer fed the PollRecords of `cycles` polls (each with the
//     profile's values: energy and band registers, power, voltage, current, frequency, power
//     factor), stored as recent rows and billed in the writer's batched transactions, with the
//     meters' latest values (meter_values).
// Each is timed from the first reading handed over to the last one committed.
//
// Usage: bench_ingest [meters=2000] [cycles=500] [import|writer|both]

#include "bench_site.hpp"

#include <kwh/billing/import.hpp>
#include <kwh/daemon/writer.hpp>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

using namespace kwh;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "kwh-bench-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!std::getenv("KEEP")) fs::remove_all(path, ec);
  }
};

std::int64_t file_size(const std::string& db) {
  std::error_code ec;
  auto n = fs::file_size(db, ec);
  auto w = fs::file_size(db + "-wal", ec);
  return static_cast<std::int64_t>(n) + (ec ? 0 : static_cast<std::int64_t>(w));
}

} // namespace

int main(int argc, char** argv) {
  const int meters = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int cycles = argc > 2 ? std::atoi(argv[2]) : 500;
  const std::string which = argc > 3 ? argv[3] : "both";
  set_site_timezone(bench::k_zone);
  config::Config cfg;
  const UnixTime opened = from_local(2026, 1, 1);
  const UnixTime start = from_local(2026, 3, 1);
  const long readings = static_cast<long>(meters) * cycles;
  fmt::print("ingest of {} readings ({} meters, {} one-minute polls), stored and billed\n", readings, meters, cycles);
  fmt::print("{:<22} {:>10} {:>9} {:>14}\n", "path", "readings", "seconds", "readings/s");

  if (which != "writer") {
    TempDir dir;
    const std::string path = (dir.path / "kwh.db").string();
    auto db = storage::Database::open(path, storage::OpenMode::create);
    bench::make_site(*db, cfg, meters, opened, 10'000'000);
    // The CSV, as a site exports it (made before the clock starts).
    std::vector<bench::Meter> m(static_cast<std::size_t>(meters) + 1);
    std::string csv = "meter,time,energy_total,energy_sharp,energy_peak,energy_flat,energy_valley,power_total\n";
    csv.reserve(static_cast<std::size_t>(readings) * 70);
    for (int c = 0; c < cycles; ++c) {
      const UnixTime t = start + c * 60;
      const std::string when = format_time(t);
      for (int i = 1; i <= meters; ++i) {
        auto& x = m[static_cast<std::size_t>(i)];
        const auto w = bench::advance(x, i, t, 60);
        fmt::format_to(std::back_inserter(csv), "M{:05},{},{},{},{},{},{},{}\n", i, when, x.energy, x.bands[0],
                       x.bands[1], x.bands[2], x.bands[3], w);
      }
    }
    std::istringstream in(std::move(csv));
    auto t0 = Clock::now();
    auto s = billing::import_readings(*db, cfg, in, "bench.csv");
    const double secs = seconds_since(t0);
    if (s.stored != readings) throw std::runtime_error(fmt::format("imported {} of {}", s.stored, readings));
    fmt::print("{:<22} {:>10} {:>9.2f} {:>14.0f}\n", "kwh reading import", readings, secs, readings / secs);
    fmt::print("  database {:.1f} MB\n", file_size(path) / 1e6);
  }

  if (which != "import") {
    TempDir dir;
    const std::string path = (dir.path / "kwh.db").string();
    {
      auto db = storage::Database::open(path, storage::OpenMode::create);
      bench::make_site(*db, cfg, meters, opened, 10'000'000);
    }
    daemon::Metrics metrics;
    daemon::Writer writer(storage::Database::open(path), cfg, metrics);
    writer.start();
    std::vector<bench::Meter> m(static_cast<std::size_t>(meters) + 1);
    // Readings of today, as kwhd takes them (a day that is over would be posted at once).
    const UnixTime today = now() / 60 * 60 - static_cast<UnixTime>(cycles) * 60;
    // A poll's records (the names are built once; the poller's own work is not timed here).
    static const char* k_names[] = {"energy_total", "energy_sharp", "energy_peak", "energy_flat", "energy_valley",
                                    "power_total",  "voltage_a",    "current_a",   "frequency",   "power_factor"};
    std::vector<daemon::PollRecord> cycle(static_cast<std::size_t>(meters));
    for (int i = 1; i <= meters; ++i) {
      auto& r = cycle[static_cast<std::size_t>(i - 1)];
      r.meter_id = i;
      r.gateway_id = (i - 1) / 200 + 1;
      r.reading.emplace();
      r.reading->meter_id = i;
      for (const char* n : k_names) r.reading->values.push_back({n, 0, std::nullopt});
    }
    double produce = 0;
    auto t0 = Clock::now();
    for (int c = 0; c < cycles; ++c) {
      auto p0 = Clock::now();
      const UnixTime t = today + c * 60;
      for (int i = 1; i <= meters; ++i) {
        auto& x = m[static_cast<std::size_t>(i)];
        const auto w = bench::advance(x, i, t, 60);
        auto rec = cycle[static_cast<std::size_t>(i - 1)];
        rec.time = t;
        rec.reading->time = t;
        auto& v = rec.reading->values;
        const std::int64_t ints[] = {x.energy, x.bands[0], x.bands[1], x.bands[2], x.bands[3], w};
        for (std::size_t k = 0; k < 6; ++k) v[k].real = static_cast<double>(ints[k]), v[k].integer = ints[k];
        v[6].real = 229.5, v[7].real = static_cast<double>(w) / 229.5, v[8].real = 50.0, v[9].real = 0.98;
        produce += seconds_since(p0);
        writer.add(std::move(rec));
        // A poller hands over a cycle at a time; this one waits while the writer has two
        // batches' worth queued, so that memory stays what kwhd uses.
        if (i % 1000 == 0)
          while (writer.backlog() > 2 * daemon::k_batch_readings) std::this_thread::sleep_for(std::chrono::microseconds(200));
        p0 = Clock::now();
      }
    }
    writer.flush();
    const double secs = seconds_since(t0);
    const double cpu = writer.cpu_seconds();
    writer.stop();
    const auto written = metrics.readings_written.load();
    if (static_cast<long>(written) != readings)
      throw std::runtime_error(fmt::format("the writer stored {} of {}", written, readings));
    fmt::print("{:<22} {:>10} {:>9.2f} {:>14.0f}\n", "kwhd writer", readings, secs, readings / secs);
    fmt::print("{:<22} {:>10} {:>9.2f} {:>14.0f}\n", "  its thread's CPU", readings, cpu, readings / cpu);
    fmt::print("  database {:.1f} MB; {} write transactions; the producing thread's own time {:.2f} s\n",
               file_size(path) / 1e6, metrics.db_write.count(), produce);
  }
  return 0;
}
