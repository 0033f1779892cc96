// Benchmark of the office's reports at site scale, and of the import path that feeds them.
//
// 1. Import rate: readings of `import_meters` meters over `import_days` days at 30-minute
//    intervals go through billing::import_readings (the code behind `kwh reading import`), which
//    bills each one and keeps daily_usage.
// 2. Scale: `meters` meters (one account each) and `days` days of history, written straight
//    with SQL because importing a year of 30-minute readings for 2 000 meters (35 million) takes
//    longer than a benchmark should: one daily_usage row per meter and day, one ledger charge
//    per meter and day (the ledger of a real site has one per reading; the reports never read
//    charges, so their number only matters for the index they skip), two sales a month and a
//    refund a quarter per account. Then the monthly energy report by meter and the yearly sales
//    reports are timed (the target is under a second each).
//
// Usage: bench_reports [meters=2000] [days=365] [import_meters=100] [import_days=7]

#include <kwh/billing/account.hpp>
#include <kwh/billing/import.hpp>
#include <kwh/billing/tariff.hpp>
#include <kwh/config/config.hpp>
#include <kwh/report/report.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/util/time.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>

using namespace kwh;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string temp_db(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / fmt::format("kwh-bench-reports-{}", ::getpid());
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

void site(storage::Database& db, int meters) {
  storage::Transaction tx(db);
  // 247 unit addresses per bus: one gateway per 247 meters.
  auto g = db.prepare("INSERT INTO gateways (id, name, transport, address, created) VALUES (?, ?, 'tcp', ?, 0)");
  for (int i = 1; i <= (meters + 246) / 247; ++i) {
    g.reset();
    g.bind_all(i, fmt::format("gw{}", i), fmt::format("127.0.0.1:{}", 1500 + i));
    g.run();
  }
  auto m = db.prepare("INSERT INTO meters (id, name, gateway_id, unit, profile, kind, building, created) "
                      "VALUES (?, ?, ?, ?, 'eastron-sdm120', 'electricity', ?, 0)");
  for (int i = 1; i <= meters; ++i) {
    m.reset();
    m.bind_all(i, fmt::format("M{:05}", i), (i - 1) / 247 + 1, (i - 1) % 247 + 1, fmt::format("B{:02}", i % 20));
    m.run();
  }
  tx.commit();
}

double import_rate(const config::Config& cfg, int meters, int days, UnixTime start) {
  auto db = storage::Database::open(temp_db("import.db"), storage::OpenMode::create);
  storage::migrate(*db);
  site(*db, meters);
  {
    storage::Transaction tx(*db);
    auto v = billing::parse_tariff(billing::flat_tariff_body(Price::from_ten_thousandths(12345), start - 86400, "kWh"),
                                   "bench", start - 86400);
    billing::add_tariff_version(*db, "flat", v, billing::flat_tariff_body(Price::from_ten_thousandths(12345), start - 86400, "kWh"),
                                start - 86400, 2);
    tx.commit();
  }
  for (int i = 1; i <= meters; ++i) {
    billing::OpenAccount a;
    a.id = fmt::format("A{:05}", i);
    a.holder = a.id;
    a.tariff = "flat";
    a.meters = {fmt::format("M{:05}", i)};
    a.opened = start - 86400;
    billing::open_account(*db, a);
  }
  std::ostringstream csv;
  csv << "meter,time,energy_total\n";
  int readings = 0;
  for (int i = 1; i <= meters; ++i)
    for (int k = 0; k <= days * 48; ++k, ++readings)
      csv << fmt::format("M{:05},{},{}\n", i, format_time(start + k * 1800), 1'000'000 + k * (500 + i % 700));
  std::istringstream in(csv.str());
  auto t0 = Clock::now();
  auto summary = billing::import_readings(*db, cfg, in, "bench.csv");
  double s = seconds_since(t0);
  fmt::print("import: {} readings of {} meters over {} days in {:.2f} s: {:.0f} readings/s ({} stored, {} charged)\n",
             readings, meters, days, s, readings / s, summary.stored, summary.charged);
  return readings / s;
}

void scale(int meters, int days, UnixTime year_start) {
  auto db = storage::Database::open(temp_db("scale.db"), storage::OpenMode::create);
  storage::migrate(*db);
  site(*db, meters);
  auto t0 = Clock::now();
  {
    storage::Transaction tx(*db);
    db->exec("INSERT INTO tariffs (id, name, created) VALUES (1, 'flat', 0)");
    db->exec("INSERT INTO accounts (id, name, holder, tariff_id, opened) SELECT id, printf('A%05d', id), name, 1, 0 FROM meters");
    db->exec("INSERT INTO assignments (account_id, meter_id, valid_from) SELECT id, id, 0 FROM meters");
    // The site-local midnights of the period, computed here (zone rules), used by SQL below.
    db->exec("CREATE TEMP TABLE days (n INTEGER PRIMARY KEY, day INTEGER NOT NULL)");
    auto d = db->prepare("INSERT INTO temp.days (n, day) VALUES (?, ?)");
    for (int n = 0; n < days; ++n) {
      d.reset();
      d.bind_all(n, add_local_days(year_start, n));
      d.run();
    }
    auto usage = db->prepare(
        "INSERT INTO daily_usage (day, meter_id, account_id, quantity, cost) "
        "SELECT d.day, m.id, m.id, 20000 + (m.id * 37 + d.n * 11) % 9000, (20000 + (m.id * 37 + d.n * 11) % 9000) * 12345 / 10000000 "
        "FROM temp.days d, meters m ORDER BY d.day, m.id");
    usage.run();
    auto charges = db->prepare(
        "INSERT INTO ledger (account_id, time, kind, amount, balance, meter_id, t0, t1, quantity, band, hash) "
        "SELECT u.account_id, u.day + 86399, 'charge', -u.cost, 0, u.meter_id, u.day, u.day + 86400, u.quantity, NULL, x'00' "
        "FROM daily_usage u ORDER BY u.day, u.meter_id");
    charges.run();
    auto sales = db->prepare(
        "INSERT INTO ledger (account_id, time, kind, amount, balance, receipt, method, operator, hash) "
        "SELECT m.id, d.day + 3600 * (9 + m.id % 8), 'sale', 10000 + (m.id % 50) * 1000, 0, NULL, "
        "CASE m.id % 4 WHEN 0 THEN 'cash' WHEN 1 THEN 'card' WHEN 2 THEN 'transfer' ELSE 'online' END, "
        "CASE m.id % 3 WHEN 0 THEN 'alice' WHEN 1 THEN 'bob' ELSE 'carol' END, x'00' "
        "FROM temp.days d, meters m WHERE d.n % 15 = m.id % 15 ORDER BY d.day, m.id");
    sales.run();
    auto refunds = db->prepare(
        "INSERT INTO ledger (account_id, time, kind, amount, balance, method, operator, hash) "
        "SELECT m.id, d.day + 3600 * 15, 'refund', -500, 0, 'cash', 'alice', x'00' "
        "FROM temp.days d, meters m WHERE d.n % 91 = m.id % 91 ORDER BY d.day, m.id");
    refunds.run();
    tx.commit();
  }
  auto count = [&](const char* sql) {
    auto st = db->prepare(sql);
    st.step();
    return st.get_int(0);
  };
  fmt::print("scale: {} meters, {} days: {} daily_usage rows, {} ledger rows ({} sales and refunds) written in {:.1f} s\n",
             meters, days, count("SELECT COUNT(*) FROM daily_usage"), count("SELECT COUNT(*) FROM ledger"),
             count("SELECT COUNT(*) FROM ledger WHERE kind IN ('sale', 'refund')"), seconds_since(t0));
  db->exec("ANALYZE");

  auto time_report = [&](const char* what, report::Name name, report::By by, UnixTime from, UnixTime to) {
    report::Options o;
    o.name = name, o.by = by;
    o.from = format_date(from), o.to = format_date(to - 1);
    o.now = to;
    auto t = Clock::now();
    auto table = report::build(*db, report::prepare(o));
    double s = seconds_since(t);
    fmt::print("{:<44} {:>6} rows in {:.3f} s{}\n", what, table.rows.size(), s, s < 1.0 ? "" : "  (over 1 s)");
  };
  const UnixTime month = add_local_months(local_month_start(year_start), 5);
  const UnixTime year_end = add_local_days(year_start, days);
  time_report("energy --by meter, one month", report::Name::energy, report::By::meter, month, add_local_months(month, 1));
  time_report("energy --by building, one month", report::Name::energy, report::By::building, month, add_local_months(month, 1));
  time_report("energy --by month, the year", report::Name::energy, report::By::month, year_start, year_end);
  time_report("sales --by year, the year", report::Name::sales, report::By::year, year_start, year_end);
  time_report("sales --by month, the year", report::Name::sales, report::By::month, year_start, year_end);
  time_report("sales --by day, the year", report::Name::sales, report::By::day, year_start, year_end);
  time_report("sales --by account, the year", report::Name::sales, report::By::account, year_start, year_end);
}

} // namespace

int main(int argc, char** argv) {
  auto arg = [&](int i, int def) { return argc > i ? std::atoi(argv[i]) : def; };
  const int meters = arg(1, 2000), days = arg(2, 365), import_meters = arg(3, 100), import_days = arg(4, 7);
  try {
    set_site_timezone("Asia/Shanghai");
    config::Config cfg;
    cfg.timezone = "Asia/Shanghai";
    const UnixTime year_start = from_local(2025, 1, 1);
    import_rate(cfg, import_meters, import_days, from_local(2025, 6, 1));
    scale(meters, days, year_start);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_reports: {}\n", e.what());
    std::filesystem::remove_all(std::filesystem::path(temp_db("x")).parent_path());
    return 1;
  }
  if (std::getenv("KWH_BENCH_KEEP")) fmt::print("kept {}\n", temp_db("scale.db"));
  else std::filesystem::remove_all(std::filesystem::path(temp_db("x")).parent_path());
  return 0;
}
