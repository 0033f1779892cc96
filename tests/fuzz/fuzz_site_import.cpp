// Fuzzes `kwh gateway|meter|account import`: the RFC 4180 reader, the header, and every row's
// checks and writes. The first byte picks the kind; the rest is the file. Each input runs
// against a fresh in-memory database with a gateway, two meters and a tariff, copied from one
// made once. Bad input must only ever be bad rows (or a kwh::Error), and whatever was imported
// must leave the ledger verifiable and every balance the sum of its entries.

#include <kwh/billing/tariff.hpp>
#include <kwh/import/import.hpp>
#include <kwh/ledger/ledger.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/util/time.hpp>

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

std::unique_ptr<kwh::storage::Database> template_database(const kwh::config::Config& config) {
  auto db = kwh::storage::Database::open(":memory:", kwh::storage::OpenMode::create);
  kwh::storage::migrate(*db);
  db->exec("INSERT INTO gateways(name, transport, address, created) VALUES ('g1', 'tcp', '127.0.0.1:5020', 0);"
           "INSERT INTO meters(name, gateway_id, unit, profile, kind, created) VALUES "
           "('M1', 1, 1, 'acrel-ddsy1352', 'electricity', 0), ('M2', 1, 2, 'acrel-ddsy1352', 'electricity', 0);");
  kwh::storage::Transaction tx(*db);
  std::string body = "price = \"1.2345\"\n";
  kwh::billing::add_tariff_version(*db, "flat", kwh::billing::parse_tariff(body, "t", 0), body, 0, config.minor_units);
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
  static kwh::config::Config config = [] {
    kwh::config::Config c;
    c.profiles = {};
    return c;
  }();
  static bool zone = [] {
    kwh::set_site_timezone("UTC");
    return true;
  }();
  (void)zone;
  if (size == 0) return 0;
  static auto templ = template_database(config);
  auto db = fresh_database(*templ);
  const auto kind = static_cast<kwh::import::Kind>(data[0] % 3);
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  kwh::import::Options o;
  o.operator_name = "fuzz";
  o.now = 1'800'000'000;
  o.update = (data[0] & 0x80) != 0;
  o.receipts = (data[0] & 0x40) != 0;
  try {
    auto r = kwh::import::run(*db, config, kind, kwh::import::sheet_from_text(std::move(text), "fuzz.csv"), o);
    if (r.written != r.errors.empty()) __builtin_trap();
    if (!kwh::ledger::verify(*db).empty()) __builtin_trap();
  } catch (const kwh::Error&) {
  }
  return 0;
}
