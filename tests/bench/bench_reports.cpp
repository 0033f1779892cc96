// Benchmark of a year at site scale: `meters` meters (one account each, flat tariff), a year of
// 30-minute readings imported month by month with the real `kwh reading import` (so billed like
// polled readings: charged at every reading into the day's accumulators, posted as one ledger
// entry per meter and day, the daily_usage rollups), two top-ups a month per
// account, then the office's reports through the real `kwh report`. Prints the import rate of
// each month and of the year, the database's size, and the wall time of each report (the
// targets: the monthly energy report by meter and the yearly sales report under 1 s each).
//
// Usage: bench_reports KWH [meters=2000] [months=12]
// The database goes to $TMPDIR (its size is printed); KEEP=1 keeps it.

#include <kwh/billing/account.hpp>
#include <kwh/billing/payment.hpp>
#include <kwh/billing/tariff.hpp>
#include <kwh/config/config.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/util/time.hpp>

#include <fmt/format.h>
#include <fmt/os.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace kwh;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr const char* k_zone = "Asia/Shanghai";
constexpr int k_step = 1800; // 30-minute readings

struct Site {
  fs::path dir;
  std::string db, config, kwh;
};

// Runs a kwh command; returns its wall time. Any failure ends the benchmark.
double run_kwh(const Site& s, const std::string& args, const std::string& output = "/dev/null") {
  auto t0 = Clock::now();
  std::string cmd = fmt::format("'{}' --db '{}' --config '{}' {} >'{}'", s.kwh, s.db, s.config, args, output);
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
  return seconds_since(t0);
}

// The load of meter i at a time: a base by meter, twice that from 08:00 to 22:00 (UTC+8), half
// at night; on average 1.375 times the base.
std::int64_t base_watts(int i) { return 150 + (i * 37) % 900; }
std::int64_t watts(int i, UnixTime t) {
  const int hour = static_cast<int>(((t + 8 * 3600) % 86400) / 3600);
  return hour >= 8 && hour < 22 ? base_watts(i) * 2 : base_watts(i) / 2;
}

void set_up(const Site& s, const config::Config& cfg, int meters, UnixTime opened) {
  auto db = storage::Database::open(s.db, storage::OpenMode::create);
  storage::migrate(*db);
  storage::Transaction tx(*db);
  auto g = db->prepare("INSERT INTO gateways (id, name, transport, address, created) VALUES (?, ?, 'tcp', ?, 0)");
  for (int i = 1; i <= (meters + 246) / 247; ++i) {
    g.reset();
    g.bind_all(i, fmt::format("gw{}", i), fmt::format("127.0.0.1:{}", 1500 + i));
    g.run();
  }
  auto m = db->prepare("INSERT INTO meters (id, name, gateway_id, unit, profile, kind, building, created) "
                       "VALUES (?, ?, ?, ?, 'eastron-sdm120', 'electricity', ?, 0)");
  for (int i = 1; i <= meters; ++i) {
    m.reset();
    m.bind_all(i, fmt::format("M{:05}", i), (i - 1) / 247 + 1, (i - 1) % 247 + 1, fmt::format("B{:02}", i % 20));
    m.run();
  }
  const auto body = billing::flat_tariff_body(Price::from_ten_thousandths(12345), opened, "kWh");
  billing::add_tariff_version(*db, "flat", billing::parse_tariff(body, "flat", opened), body, opened, 2);
  for (int i = 1; i <= meters; ++i) {
    billing::OpenAccount a;
    a.id = fmt::format("A{:05}", i);
    a.holder = a.id;
    a.tariff = "flat";
    a.meters = {fmt::format("M{:05}", i)};
    a.alarm1 = Money::from_minor(20'000);
    a.alarm2 = Money::from_minor(5'000);
    a.opened = opened;
    billing::open_account(*db, a);
  }
  tx.commit();
  (void)cfg;
}

// Two top-ups in the month for each account, sized to what its meter draws (some run low).
void sales(const Site& s, const config::Config& cfg, int meters, UnixTime month, UnixTime next, bool first) {
  auto db = storage::Database::open(s.db);
  storage::Transaction tx(*db);
  static const char* k_methods[] = {"cash", "card", "transfer", "online"};
  static const char* k_cashiers[] = {"alice", "bob", "carol"};
  for (int i = 1; i <= meters; ++i) {
    // 1.375 × base W for 30 days at 1.2345/kWh, in minor units.
    const std::int64_t monthly = base_watts(i) * 1375 * 720 / 1000 * 12345 / 100'000;
    for (int k = 0; k < 2; ++k) {
      billing::PaymentRequest r;
      r.account = fmt::format("A{:05}", i);
      r.amount = Money::from_minor((first && k == 0 ? 3 : 1) * (monthly / 2) * (90 + (i % 25)) / 100 + 100);
      r.method = k_methods[(i + k) % 4];
      r.operator_name = k_cashiers[i % 3];
      r.time = month + (k == 0 ? 0 : (next - month) / 2) + 3600 * (9 + i % 8);
      billing::post_payment_in(*db, cfg, r);
    }
  }
  tx.commit();
}

// The month's readings of every meter as `kwh reading import` takes them; returns the count.
long write_month(const fs::path& file, int meters, UnixTime from, UnixTime to, std::vector<std::int64_t>& energy) {
  auto out = fmt::output_file(file.string());
  out.print("meter,time,energy_total\n");
  long n = 0;
  for (UnixTime t = from; t < to; t += k_step) {
    const std::string when = format_time(t);
    for (int i = 1; i <= meters; ++i, ++n) {
      energy[static_cast<std::size_t>(i)] += watts(i, t) * k_step / 3600;
      out.print("M{:05},{},{}\n", i, when, energy[static_cast<std::size_t>(i)]);
    }
  }
  return n;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: bench_reports KWH [meters=2000] [months=12]\n");
    return 64;
  }
  const int meters = argc > 2 ? std::atoi(argv[2]) : 2000;
  const int months = argc > 3 ? std::atoi(argv[3]) : 12;
  Site s;
  s.kwh = argv[1];
  s.dir = fs::temp_directory_path() / fmt::format("kwh-bench-reports-{}", ::getpid());
  fs::create_directories(s.dir);
  s.db = (s.dir / "kwh.db").string();
  s.config = (s.dir / "kwh.toml").string();
  int rc = 0;
  try {
    std::ofstream(s.config) << "timezone = \"" << k_zone << "\"\n";
    fs::permissions(s.config, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                  fs::perms::others_read);
    set_site_timezone(k_zone);
    config::Config cfg;
    cfg.timezone = k_zone;
    const UnixTime year = from_local(2025, 1, 1);
    set_up(s, cfg, meters, year - 86400);
    fmt::print("site: {} meters, one account each (flat 1.2345/kWh), {} in {}; {} months of 30-minute readings\n",
               meters, s.db, k_zone, months);

    // A baseline reading a day before the year, then the months.
    std::vector<std::int64_t> energy(static_cast<std::size_t>(meters) + 1, 1'000'000);
    const fs::path csv = s.dir / "month.csv";
    write_month(csv, meters, year - 86400, year - 86400 + k_step, energy);
    run_kwh(s, fmt::format("reading import '{}'", csv.string()));
    long total = 0;
    double import_s = 0;
    for (int m = 0; m < months; ++m) {
      const UnixTime month = add_local_months(year, m), next = add_local_months(year, m + 1);
      sales(s, cfg, meters, month, next, m == 0);
      auto g = Clock::now();
      const long n = write_month(csv, meters, month, next, energy);
      const double gen = seconds_since(g);
      const double t = run_kwh(s, fmt::format("reading import '{}'", csv.string()));
      total += n;
      import_s += t;
      fmt::print("import {}: {} readings in {:.1f} s: {:.0f} readings/s (csv written in {:.1f} s)\n",
                 format_date(month).substr(0, 7), n, t, n / t, gen);
      std::fflush(stdout);
    }
    fs::remove(csv);
    fmt::print("import, the year: {} readings in {:.0f} s: {:.0f} readings/s\n", total, import_s, total / import_s);
    {
      auto db = storage::Database::open(s.db);
      auto count = [&](const char* sql) {
        auto st = db->prepare(sql);
        st.step();
        return st.get_int(0);
      };
      fmt::print("database: {:.2f} GB; {} readings, {} ledger entries ({} sales), {} daily_usage rows\n",
                 static_cast<double>(fs::file_size(s.db)) / 1e9, count("SELECT count(*) FROM readings"),
                 count("SELECT count(*) FROM ledger"), count("SELECT count(*) FROM ledger WHERE kind = 'sale'"),
                 count("SELECT count(*) FROM daily_usage"));
      fmt::print("accounts: {} ok, {} alarm1, {} alarm2, {} arrears; {} relay commands queued by billing\n",
                 count("SELECT count(*) FROM accounts WHERE status = 'ok'"),
                 count("SELECT count(*) FROM accounts WHERE status = 'alarm1'"),
                 count("SELECT count(*) FROM accounts WHERE status = 'alarm2'"),
                 count("SELECT count(*) FROM accounts WHERE status = 'arrears'"), count("SELECT count(*) FROM commands"));
    }

    // The reports, as the office runs them (each a whole `kwh report` process, wall time).
    const std::string june = format_date(add_local_months(year, std::min(5, months - 1)));
    const std::string june_end = format_date(add_local_months(year, std::min(6, months)) - 1);
    const std::string year_end = format_date(add_local_months(year, months) - 1);
    struct Report {
      const char* what;
      std::string args;
      bool target;
    };
    const Report reports[] = {
        {"energy --by meter, one month", fmt::format("report energy --by meter --from {} --to {}", june, june_end), true},
        {"sales --by year, the year", fmt::format("report sales --by year --from {} --to {}", format_date(year), year_end), true},
        {"energy --by building, one month", fmt::format("report energy --by building --from {} --to {}", june, june_end), false},
        {"energy --by month, the year", fmt::format("report energy --by month --from {} --to {}", format_date(year), year_end), false},
        {"sales --by month, the year", fmt::format("report sales --by month --from {} --to {}", format_date(year), year_end), false},
        {"sales --by day, the year", fmt::format("report sales --by day --from {} --to {}", format_date(year), year_end), false},
        {"sales --by account, the year", fmt::format("report sales --by account --from {} --to {}", format_date(year), year_end), false},
        {"sales --by operator, the year", fmt::format("report sales --by operator --from {} --to {}", format_date(year), year_end), false},
        {"balances", "report balances", false},
    };
    const fs::path out = s.dir / "report.csv";
    for (const auto& r : reports) {
      run_kwh(s, r.args + " --format csv", out.string()); // once to warm the page cache, as a second run would be
      const double t = run_kwh(s, r.args + " --format csv", out.string());
      long rows = -1; // without the header
      std::ifstream in(out);
      for (std::string line; std::getline(in, line);) ++rows;
      fmt::print("kwh {:<34} {:>6} rows in {:.3f} s{}\n", r.what, rows, t,
                 r.target ? (t < 1.0 ? "  (target < 1 s: met)" : "  (target < 1 s: MISSED)") : "");
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_reports: {}\n", e.what());
    rc = 1;
  }
  if (std::getenv("KEEP")) fmt::print("kept {}\n", s.dir.string());
  else fs::remove_all(s.dir);
  return rc;
}
