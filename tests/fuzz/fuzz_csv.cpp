// Fuzzes `kwh reading import`: the CSV parser, its checks against stored readings, and billing
// what passes. Each input runs against a fresh in-memory database with one electricity meter
// (M1, in an account with credit) and one water meter (W1). Bad input must only ever be a
// kwh::Error, and a good file must leave every balance equal to the sum of its ledger. The
// database is made once and copied with SQLite's backup API for each input, which is fast.

#include <kwh/billing/account.hpp>
#include <kwh/billing/import.hpp>
#include <kwh/billing/payment.hpp>
#include <kwh/billing/tariff.hpp>
#include <kwh/ledger/ledger.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/util/time.hpp>

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

namespace {

std::unique_ptr<kwh::storage::Database> template_database(const kwh::config::Config& config) {
  auto db = kwh::storage::Database::open(":memory:", kwh::storage::OpenMode::create);
  kwh::storage::migrate(*db);
  db->exec("INSERT INTO gateways(name, transport, address, created) VALUES ('g1', 'tcp', '127.0.0.1:5020', 0);"
           "INSERT INTO meters(name, gateway_id, unit, profile, kind, created) VALUES "
           "('M1', 1, 1, 'p', 'electricity', 0), ('W1', 1, 2, 'p', 'water', 0);");
  kwh::storage::Transaction tx(*db);
  std::string body = "price = \"1.2345\"\n";
  auto v = kwh::billing::parse_tariff(body, "t", 0);
  kwh::billing::add_tariff_version(*db, "std", v, body, 0, config.minor_units);
  kwh::billing::OpenAccount a;
  a.id = "A1";
  a.holder = "fuzz";
  a.tariff = "std";
  a.meters = {"M1"};
  a.alarm1 = kwh::Money::from_minor(5'000);
  kwh::billing::open_account(*db, a);
  kwh::billing::PaymentRequest p;
  p.account = "A1";
  p.amount = kwh::Money::from_minor(10'000);
  p.operator_name = "fuzz";
  kwh::billing::post_payment_in(*db, config, p);
  tx.commit();
  return db;
}

std::unique_ptr<kwh::storage::Database> fresh_database(kwh::storage::Database& from) {
  auto db = kwh::storage::Database::open(":memory:", kwh::storage::OpenMode::create);
  sqlite3_backup* b = sqlite3_backup_init(db->handle(), "main", from.handle(), "main");
  if (!b || sqlite3_backup_step(b, -1) != SQLITE_DONE) __builtin_trap();
  sqlite3_backup_finish(b);
  return db;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static kwh::config::Config config;
  static bool zone = [] {
    kwh::set_site_timezone("UTC");
    return true;
  }();
  (void)zone;
  static auto templ = template_database(config);
  auto db = fresh_database(*templ);
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    kwh::billing::import_readings(*db, config, in, "fuzz.csv", [] { return kwh::UnixTime(1'800'000'000); });
    if (!kwh::ledger::verify(*db).empty()) __builtin_trap();
  } catch (const kwh::Error&) {
  }
  return 0;
}
