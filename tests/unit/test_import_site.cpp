#include <doctest/doctest.h>

#include "temp_dir.hpp"

#include <kwh/billing/account.hpp>
#include <kwh/billing/tariff.hpp>
#include <kwh/import/import.hpp>
#include <kwh/ledger/ledger.hpp>
#include <kwh/site/gateway.hpp>
#include <kwh/site/meter.hpp>
#include <kwh/storage/database.hpp>

using namespace kwh;

namespace {

struct Site {
  test::TempDir dir;
  std::unique_ptr<storage::Database> db;
  config::Config config;

  Site() {
    db = storage::Database::open(dir.file("kwh.db"), storage::OpenMode::create);
    storage::migrate(*db);
    db->exec("PRAGMA synchronous = OFF");
    config.profiles = {};
    storage::Transaction tx(*db);
    const std::string body = "price = \"1.0000\"\n";
    billing::add_tariff_version(*db, "flat", billing::parse_tariff(body, "flat.toml", 0, 2), body, 0, 2);
    tx.commit();
  }

  import::Result run(import::Kind kind, const std::string& text, import::Options o = {},
                     const std::function<void(const import::Result&)>& also = {}) {
    o.operator_name = "tester";
    o.now = 1'800'000'000;
    return import::run(*db, config, kind, import::sheet_from_text(text, "sheet.csv"), o, also);
  }

  std::int64_t count(const std::string& sql) {
    auto st = db->prepare(sql);
    st.step();
    return st.get_int(0);
  }
};

const char* k_gateways = "name,tcp,rtu,baud,gap_ms\n"
                         "gw1,127.0.0.1:15020,,,100\n"
                         "gw2,,/dev/ttyUSB0,19200,\n";

const char* k_meters = "id,gateway,unit,profile,kind,building,room,relay_mode,overload_w\n"
                       "M1,gw1,1,acrel-ddsy1352,,A,101,,\n"
                       "M2,gw1,2,acrel-ddsy1352,electricity,A,\"102, corner\",protect,8000\n"
                       "M3,gw2,1,acrel-dtsy1352,,B,,off,\n";

} // namespace

TEST_CASE("Import: gateways, meters and accounts in one go; run again, everything is skipped") {
  Site s;
  int audited = 0;
  auto audit = [&](const import::Result&) { ++audited; };
  auto g = s.run(import::Kind::gateways, k_gateways, {}, audit);
  CHECK(g.ok());
  CHECK(g.written);
  CHECK(g.added == 2);
  auto gw2 = site::get_gateway(*s.db, "gw2");
  CHECK(gw2.transport == site::Transport::rtu_serial);
  CHECK(gw2.baud == 19200);
  CHECK(gw2.parity == 'N'); // gateway add's defaults for what the row leaves out

  auto m = s.run(import::Kind::meters, k_meters, {}, audit);
  CHECK(m.ok());
  CHECK(m.added == 3);
  auto m2 = site::get_meter(*s.db, "M2");
  CHECK(m2.room == "102, corner");
  CHECK(m2.relay_mode == site::RelayMode::protect);
  CHECK(m2.overload_w == 8000);
  CHECK(site::get_meter(*s.db, "M1").overload_w == std::nullopt);

  auto a = s.run(import::Kind::accounts,
                 "id,name,tariff,meters,alarm1,alarm2,credit_limit,phone,opening_balance\n"
                 "A1,Tea House,flat,M1;M2,50,20,,555,250.50\n"
                 "A2,Noodles,flat,M3,,,10,,-12\n"
                 "A3,Empty,flat,,,,,,\n",
                 {}, audit);
  CHECK(a.ok());
  CHECK(a.added == 3);
  CHECK(audited == 3); // one audit entry per file
  auto a1 = billing::find_account(*s.db, "A1");
  CHECK(a1.balance == 25'050);
  CHECK(a1.meters == std::vector<std::string>{"M1", "M2"});
  CHECK(billing::find_account(*s.db, "A2").balance == -1'200);
  CHECK(billing::find_account(*s.db, "A2").status == "arrears");
  CHECK(billing::find_account(*s.db, "A3").balance == 0);
  // An opening balance is an entry of its own kind, chained like the rest; never a sale.
  CHECK(s.count("SELECT count(*) FROM ledger WHERE kind = 'opening'") == 2);
  CHECK(s.count("SELECT count(*) FROM ledger WHERE kind = 'sale'") == 0);
  CHECK(s.count("SELECT count(*) FROM ledger WHERE receipt IS NOT NULL") == 0); // none asked for
  CHECK(ledger::verify(*s.db).empty());
  REQUIRE(a.openings.size() == 2);
  CHECK(a.openings[0].kind == billing::PaymentKind::opening);

  // The same files again: nothing differs, nothing is written but the audit entry.
  for (auto [kind, text] : {std::pair{import::Kind::gateways, k_gateways}, std::pair{import::Kind::meters, k_meters}}) {
    auto again = s.run(kind, text);
    CHECK(again.ok());
    CHECK(again.added == 0);
    CHECK(again.updated == 0);
    CHECK(again.skipped == static_cast<int>(again.rows.size()));
  }
  CHECK(s.count("SELECT count(*) FROM ledger") == 2);
}

TEST_CASE("Import: every bad row is reported with its line, and nothing is written") {
  Site s;
  REQUIRE(s.run(import::Kind::gateways, k_gateways).ok());
  auto r = s.run(import::Kind::meters, "id,gateway,unit,profile,room\n"
                                       "M1,gw1,1,acrel-ddsy1352,101\n"
                                       "M2,gw9,2,acrel-ddsy1352,102\n"   // unknown gateway
                                       "M3,gw1,1,acrel-ddsy1352,103\n"   // unit taken by row 2
                                       "M1,gw1,4,acrel-ddsy1352,104\n"   // ID twice in the file
                                       "M5,gw1,x,acrel-ddsy1352,105\n"   // bad number
                                       "M6,gw1,6,no-such-profile,106\n"  // unknown profile
                                       "M7,gw1,7\n"                      // short row
                                       "\n"
                                       "M8,gw1,8,acrel-ddsy1352,108\n");
  CHECK(!r.ok());
  CHECK(!r.written);
  std::vector<int> lines;
  for (const auto& e : r.errors) lines.push_back(e.line);
  CHECK(lines == std::vector<int>{3, 4, 5, 6, 7, 8});
  CHECK(r.errors[0].reason.find("gw9") != std::string::npos);
  CHECK(r.errors[1].reason.find("M1") != std::string::npos);
  CHECK(r.errors[2].reason.find("line 2") != std::string::npos);
  CHECK(s.count("SELECT count(*) FROM meters") == 0);
}

TEST_CASE("Import: the header: unknown columns, a column twice, no ID") {
  Site s;
  auto r = s.run(import::Kind::meters, "id,gateway,colour,Relay-Mode,relay_mode\nM1,gw1,red,auto,auto\n");
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].line == 1);
  CHECK(r.errors[0].reason.find("unknown column 'colour'") != std::string::npos);
  CHECK(r.errors[1].reason.find("again") != std::string::npos);
  auto none = s.run(import::Kind::accounts, "name,tariff\nX,flat\n");
  REQUIRE(none.errors.size() == 1);
  CHECK(none.errors[0].reason.find("no column 'id'") != std::string::npos);
  CHECK(s.run(import::Kind::gateways, "").errors.at(0).reason.find("no header") != std::string::npos);
}

TEST_CASE("Import: a row that differs is an error, or with --update a change; --dry-run writes nothing") {
  Site s;
  REQUIRE(s.run(import::Kind::gateways, k_gateways).ok());
  REQUIRE(s.run(import::Kind::meters, k_meters).ok());
  const std::string changed = "id,room,overload_w,device\nM1,111,,\nM2,\"102, corner\",,D1\n";
  auto r = s.run(import::Kind::meters, changed);
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].reason.find("room 101 -> 111") != std::string::npos);
  CHECK(r.errors[1].reason.find("overload_w 8000 -> (none)") != std::string::npos);

  import::Options dry;
  dry.update = true;
  dry.dry_run = true;
  auto d = s.run(import::Kind::meters, changed, dry);
  CHECK(d.ok());
  CHECK(d.updated == 2);
  CHECK(!d.written);
  CHECK(site::get_meter(*s.db, "M1").room == "101");

  import::Options update;
  update.update = true;
  auto u = s.run(import::Kind::meters, changed, update);
  CHECK(u.ok());
  CHECK(u.updated == 2);
  CHECK(site::get_meter(*s.db, "M1").room == "111");
  CHECK(site::get_meter(*s.db, "M2").overload_w == std::nullopt);
  CHECK(site::get_meter(*s.db, "M2").device == "D1");
  // Columns the file does not have are left as they are.
  CHECK(site::get_meter(*s.db, "M2").relay_mode == site::RelayMode::protect);
}

TEST_CASE("Import: accounts: meters elsewhere, a second opening balance, a tariff change") {
  Site s;
  REQUIRE(s.run(import::Kind::gateways, k_gateways).ok());
  REQUIRE(s.run(import::Kind::meters, k_meters).ok());
  REQUIRE(s.run(import::Kind::accounts, "id,name,tariff,meters,opening_balance\nA1,One,flat,M1,10\n").ok());
  auto r = s.run(import::Kind::accounts, "id,name,tariff,meters,opening_balance\n"
                                         "A1,One,flat,M1,20\n"       // opening balance differs
                                         "A2,Two,flat,M1,\n"         // M1 is A1's
                                         "A3,Three,flat,M2,1.001\n"  // bad money
                                         "A4,Four,other,,\n");       // unknown tariff
  std::vector<int> lines;
  for (const auto& e : r.errors) lines.push_back(e.line);
  CHECK(lines == std::vector<int>{2, 3, 4, 5});
  CHECK(r.errors[0].reason.find("posted once") != std::string::npos);
  CHECK(r.errors[1].reason.find("already belongs to open account A1") != std::string::npos);

  // --update moves meters (detach, then attach) and changes the holder; the balance stays.
  import::Options update;
  update.update = true;
  auto u = s.run(import::Kind::accounts, "id,name,meters\nA1,One Ltd,M2;M3\n", update);
  CHECK(u.ok());
  auto a1 = billing::find_account(*s.db, "A1");
  CHECK(a1.holder == "One Ltd");
  CHECK(a1.meters == std::vector<std::string>{"M2", "M3"});
  CHECK(a1.balance == 1'000);
  CHECK(ledger::verify(*s.db).empty());
  auto t = s.run(import::Kind::accounts, "id,tariff\nA1,other\n", update);
  REQUIRE(t.errors.size() == 1);
  CHECK(t.errors[0].reason.find("tariff") != std::string::npos);
}

TEST_CASE("Import: what the lists print is read back: transport and serial, read-only columns, retired and closed") {
  Site s;
  auto g = s.run(import::Kind::gateways, "gateway,transport,protocol,address,serial,timeout_ms,gap_ms,status,meters,retired\n"
                                         "g1,tcp,modbus,127.0.0.1:502,,300,0,online,4,\n"
                                         "g2,rtu,modbus,/dev/ttyS0,19200 8E2,,50,unknown,0,\n"
                                         "g3,rtu-over-tcp,dlt645,127.0.0.1:4001,,,0,unknown,0,\n"
                                         "g4,tcp,modbus,127.0.0.1:503,,,0,unknown,0,2026-01-01T00:00:00Z\n");
  CHECK(g.ok());
  CHECK(g.added == 3);
  CHECK(g.skipped == 1);
  auto g2 = site::get_gateway(*s.db, "g2");
  CHECK(g2.baud == 19200);
  CHECK(g2.parity == 'E');
  CHECK(g2.stop_bits == 2);
  CHECK(site::get_gateway(*s.db, "g3").protocol == transport::Protocol::dlt645);
  CHECK(!site::find_gateway(*s.db, "g4"));

  auto bad = s.run(import::Kind::gateways, "name,tcp,rtu\nx1,127.0.0.1:1,/dev/ttyS1\nx2,,\nx3,127.0.0.1,\n");
  REQUIRE(bad.errors.size() == 3);
  CHECK(bad.errors[0].reason.find("not 2") != std::string::npos);
  CHECK(bad.errors[1].reason.find("a new gateway needs") != std::string::npos);

  auto a = s.run(import::Kind::accounts, "account,name,status,balance,tariff,meters,alarm1,alarm2,credit_limit,phone\n"
                                         "A1,One,ok,5.00,flat,,,,0.00,\n"
                                         "A2,Two,closed,0.00,flat,,,,0.00,\n");
  CHECK(a.ok());
  CHECK(a.added == 1);
  CHECK(a.skipped == 1);
  CHECK(billing::find_account(*s.db, "A1").balance == 0); // balance is read-only
}

TEST_CASE("Import: spreadsheets that are not CSV are refused by name and by content") {
  CHECK_THROWS_AS(import::sheet_from_text("id\n", "site.xlsx"), Error);
  CHECK_THROWS_AS(import::sheet_from_text(std::string("PK\x03\x04rest", 8), "<stdin>"), Error);
  try {
    import::sheet_from_text("", "Site.XLSX");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::data);
    CHECK(std::string(e.what()).find("save the sheet as CSV") != std::string::npos);
  }
  auto s = import::sheet_from_text("id\n", "m.csv");
  CHECK(s.sha256 == "984a644ec3b56d32b0404777e1eb73390c4b0742a6a0e183f07861056b6746de"); // sha256sum of the bytes
}
