#include <doctest/doctest.h>

#include "temp_dir.hpp"

#include <kwh/storage/database.hpp>

#include <sqlite3.h>

using namespace kwh;
using namespace kwh::storage;

TEST_CASE("Storage: a missing database is 'no input' with a hint to run kwh init") {
  test::TempDir d;
  try {
    Database::open(d.file("none.db"));
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::no_input);
    CHECK(std::string(e.what()).find("kwh init") != std::string::npos);
  }
}

TEST_CASE("Storage: migrate creates the schema once, in WAL mode with foreign keys") {
  test::TempDir d;
  auto db = Database::open(d.file("kwh.db"), OpenMode::create);
  CHECK(migrate(*db) == schema_version_latest());
  CHECK(migrate(*db) == 0);
  CHECK(db->user_version() == schema_version_latest());
  auto jm = db->prepare("PRAGMA journal_mode");
  REQUIRE(jm.step());
  CHECK(jm.get_text(0) == "wal");
  auto fk = db->prepare("PRAGMA foreign_keys");
  REQUIRE(fk.step());
  CHECK(fk.get_int(0) == 1);
  for (const char* table : {"gateways", "meters", "profiles", "accounts", "assignments", "tariffs",
                            "tariff_versions", "ledger", "readings", "commands", "events", "operators", "audit",
                            "held_readings", "daily_usage", "meter_values", "sequences", "settings"}) {
    CAPTURE(table);
    auto st = db->prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1");
    st.bind(1, table);
    REQUIRE(st.step());
    CHECK(st.get_int(0) == 1);
  }
}

TEST_CASE("Storage: foreign keys are enforced") {
  test::TempDir d;
  auto db = Database::open(d.file("kwh.db"), OpenMode::create);
  migrate(*db);
  auto st = db->prepare("INSERT INTO meters(name, gateway_id, unit, profile, kind, created) "
                        "VALUES ('M1', 42, 1, 'x', 'electricity', 0)");
  CHECK_THROWS_AS(st.run(), Error);
}

TEST_CASE("Storage: the ledger and audit log refuse updates and deletes") {
  test::TempDir d;
  auto db = Database::open(d.file("kwh.db"), OpenMode::create);
  migrate(*db);
  db->exec("INSERT INTO tariffs(name, created) VALUES ('t', 0)");
  db->exec("INSERT INTO accounts(name, holder, tariff_id, opened) VALUES ('A1', 'x', 1, 0)");
  db->exec("INSERT INTO ledger(account_id, time, kind, amount, balance, hash) VALUES (1, 0, 'sale', 100, 100, x'00')");
  db->exec("INSERT INTO audit(time, operator, action, hash) VALUES (0, 'root', 'sell', x'00')");
  CHECK_THROWS_AS(db->exec("UPDATE ledger SET amount = 1000"), Error);
  CHECK_THROWS_AS(db->exec("DELETE FROM ledger"), Error);
  CHECK_THROWS_AS(db->exec("UPDATE audit SET operator = 'x'"), Error);
  CHECK_THROWS_AS(db->exec("DELETE FROM audit"), Error);
  auto st = db->prepare("SELECT amount FROM ledger");
  REQUIRE(st.step());
  CHECK(st.get_int(0) == 100);
}

TEST_CASE("Storage: a transaction not committed is rolled back") {
  test::TempDir d;
  auto db = Database::open(d.file("kwh.db"), OpenMode::create);
  migrate(*db);
  {
    Transaction tx(*db);
    db->exec("INSERT INTO settings(key, value) VALUES ('a', 'b')");
  }
  auto st = db->prepare("SELECT count(*) FROM settings WHERE key = 'a'");
  REQUIRE(st.step());
  CHECK(st.get_int(0) == 0);
}

TEST_CASE("Storage: a second writer waits, then gets 'temporary' (75) past the busy timeout") {
  test::TempDir d;
  auto a = Database::open(d.file("kwh.db"), OpenMode::create);
  migrate(*a);
  auto b = Database::open(d.file("kwh.db"));
  b->set_busy_timeout(50);
  Transaction tx(*a);
  try {
    Transaction tx2(*b);
    FAIL("expected busy");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::temporary);
  }
}

TEST_CASE("Storage: a reading row stays compact") {
  // Realistic values: meter 1 873, a 2026 time, ~12 345 kWh in Wh, four band registers, power.
  test::TempDir d;
  auto db = Database::open(d.file("kwh.db"), OpenMode::create);
  migrate(*db);
  {
    Transaction tx(*db);
    auto& ins = db->cached("INSERT INTO readings(meter_id, t, value, power) VALUES (?1, ?2, ?3, ?4)");
    for (int m = 1; m <= 200; ++m) {
      for (int i = 0; i < 200; ++i) {
        ins.bind_all(std::int64_t{1800 + m}, std::int64_t{1790000000 + i * 1800}, std::int64_t{12'345'000 + i * 250},
                     std::int64_t{1500 + i});
        ins.run();
      }
    }
    tx.commit();
  }
  db->exec("PRAGMA wal_checkpoint(TRUNCATE)");
  auto st = db->prepare("SELECT sum(pgsize) FROM dbstat WHERE name = 'readings'");
  if (st.step() && !st.is_null(0)) {
    double per_row = static_cast<double>(st.get_int(0)) / 40000.0;
    MESSAGE("bytes per reading row: " << per_row);
    CHECK(per_row <= 40.0);
  }
}
