#include <doctest/doctest.h>

#include "test_billing_fixture.hpp"

#include <kwh/ledger/ledger.hpp>

#include <algorithm>

using namespace kwh;

namespace {

bool has_finding(const std::vector<std::string>& findings, const std::string& part) {
  return std::any_of(findings.begin(), findings.end(), [&](const std::string& f) { return f.find(part) != std::string::npos; });
}

// with_ref = false: no --ref, whose look-up reads the ledger as this kwh's schema has it (for a
// database of an older schema, filled before it is migrated).
void fill(test::BillingFixture& f, bool with_ref = true) {
  auto m = f.add_meter("M1");
  f.add_flat("std", "1.0000");
  f.open("A1", "std", {"M1"});
  f.open("A2", "std", {});
  f.pay("A1", 10'000);
  f.pay("A2", 5'000, billing::PaymentKind::sale, with_ref ? std::optional<std::string>("ref-2") : std::nullopt);
  f.ingest(m, 0, 0);
  f.ingest(m, 3600, 1'500);
  f.post_days(); // 1970-01-01 is over: its charge is posted
  f.pay("A2", 1'000, billing::PaymentKind::refund);
}

} // namespace

TEST_CASE("Ledger: a clean ledger verifies, with balances equal to the sum of entries") {
  test::BillingFixture f;
  fill(f);
  CHECK(ledger::verify(*f.db).empty());
  CHECK(f.balance("A1") == 10'000 - 150);
  CHECK(f.balance("A2") == 4'000);
  CHECK(f.count("SELECT sum(amount) FROM ledger WHERE account_id = 1") == f.balance("A1"));
  auto e = ledger::entries(*f.db, 1);
  REQUIRE(e.size() == 2);
  CHECK(e[1].kind == "charge");
  CHECK(e[1].balance == 10'000 - 150);
  CHECK(e[1].quantity == 1'500);
  CHECK(e[1].hash.size() == 32);
}

TEST_CASE("Ledger: verification finds an entry edited behind kwh's back") {
  test::BillingFixture f;
  fill(f);
  f.db->exec("DROP TRIGGER ledger_no_update");
  f.db->exec("UPDATE ledger SET amount = 20000, balance = 20000 WHERE id = 1");
  f.db->exec("UPDATE accounts SET balance = balance + 10000 WHERE id = 1");
  auto findings = ledger::verify(*f.db);
  CHECK(has_finding(findings, "entry 1 does not match its hash"));
}

TEST_CASE("Ledger: verification finds a removed entry and a balance that is not the sum") {
  test::BillingFixture f;
  fill(f);
  f.db->exec("DROP TRIGGER ledger_no_delete");
  f.db->exec("DELETE FROM ledger WHERE id = 2");
  auto findings = ledger::verify(*f.db);
  CHECK(has_finding(findings, "entries are missing"));
  CHECK(has_finding(findings, "entry 3 does not match its hash"));
  CHECK(has_finding(findings, "account A2: balance"));
}

TEST_CASE("Ledger: verification finds reordered entries") {
  test::BillingFixture f;
  fill(f);
  f.db->exec("DROP TRIGGER ledger_no_update");
  // Swap the ids of entries 1 and 2 (through a free id).
  f.db->exec("UPDATE ledger SET id = 100 WHERE id = 1");
  f.db->exec("UPDATE ledger SET id = 1 WHERE id = 2");
  f.db->exec("UPDATE ledger SET id = 2 WHERE id = 100");
  auto findings = ledger::verify(*f.db);
  CHECK(has_finding(findings, "entry 1 does not match its hash"));
}

TEST_CASE("Ledger: verification finds a cached balance changed without an entry") {
  test::BillingFixture f;
  fill(f);
  f.db->exec("UPDATE accounts SET balance = balance + 1 WHERE name = 'A1'");
  auto findings = ledger::verify(*f.db);
  REQUIRE(findings.size() == 1);
  CHECK(has_finding(findings, "account A1: balance 9851 is not the sum of its ledger entries (9850)"));
}

TEST_CASE("Ledger: verification finds a duplicate --ref") {
  test::BillingFixture f;
  fill(f);
  f.db->exec("DROP TRIGGER ledger_no_update");
  // Without the UNIQUE constraint (rebuilt table), a second row with the same ref is a finding.
  f.db->exec("PRAGMA foreign_keys = OFF");
  f.db->exec("DROP VIEW charges");
  f.db->exec("CREATE TABLE ledger2 AS SELECT * FROM ledger");
  f.db->exec("DROP TABLE ledger");
  f.db->exec("ALTER TABLE ledger2 RENAME TO ledger");
  f.db->exec("UPDATE ledger SET ref = 'ref-2' WHERE id = 1");
  auto findings = ledger::verify(*f.db);
  CHECK(has_finding(findings, "--ref 'ref-2' is used by 2 entries"));
}

TEST_CASE("Ledger: the canonical form covers every field, so changing any changes the hash") {
  ledger::Entry e;
  e.id = 7;
  e.account_id = 1;
  e.kind = "sale";
  e.amount = 100;
  e.balance = 100;
  std::string h = ledger::chain_hash("", e);
  auto changed = e;
  changed.note = std::string("x");
  CHECK(ledger::chain_hash("", changed) != h);
  changed = e;
  changed.ref = std::string("");
  CHECK(ledger::chain_hash("", changed) != h); // empty is not NULL
  CHECK(ledger::chain_hash(std::string(32, 'a'), e) != h);
}

TEST_CASE("Ledger: schema 9 takes emergency credit and debt recoveries; a ledger of schema 8 keeps every entry and "
          "hash") {
  test::BillingFixture f(8);
  // A ledger as schema 8 has it, written by hand (today's billing speaks schema 9).
  f.add_meter("M1");
  f.add_flat("std", "1.0000");
  for (const char* a : {"A1", "A2"})
    f.db->prepare("INSERT INTO accounts(name, holder, tariff_id, opened) VALUES (?1, 'holder', 1, 0)").bind(1, a).run();
  for (auto [account, kind, amount] : {std::tuple{1, "sale", 10'000}, std::tuple{2, "sale", 5'000},
                                       std::tuple{1, "charge", -150}, std::tuple{2, "refund", -1'000}}) {
    ledger::Entry e;
    e.account_id = account;
    e.time = 3600;
    e.kind = kind;
    e.amount = amount;
    ledger::append(*f.db, e);
  }
  auto rows = [&] {
    std::string out;
    auto st = f.db->prepare("SELECT id, kind, amount, balance, hex(hash), accrued FROM ledger ORDER BY id");
    while (st.step())
      out += std::to_string(st.get_int(0)) + st.get_text(1) + std::to_string(st.get_int(2)) +
             std::to_string(st.get_int(3)) + st.get_text(4) + st.get_opt_text(5).value_or("-") + "\n";
    return out;
  };
  const std::string before = rows();
  // Version 8 refuses the kinds and the status.
  CHECK_THROWS(f.db->exec("INSERT INTO ledger(account_id, time, kind, amount, balance, hash) "
                          "VALUES (1, 0, 'emergency', 1, 1, x'00')"));
  CHECK_THROWS(f.db->exec("UPDATE accounts SET status = 'emergency' WHERE id = 1"));
  const auto accounts = [&] {
    std::string out;
    auto st = f.db->prepare("SELECT id, name, balance, status, carry FROM accounts ORDER BY id");
    while (st.step())
      out += std::to_string(st.get_int(0)) + st.get_text(1) + std::to_string(st.get_int(2)) + st.get_text(3) +
             std::to_string(st.get_int(4)) + "\n";
    return out;
  };
  const std::string accounts_before = accounts();
  CHECK(storage::migrate(*f.db) == storage::schema_version_latest() - 8);
  CHECK(rows() == before);
  CHECK(accounts() == accounts_before);
  CHECK(f.count("PRAGMA foreign_keys") == 1);
  CHECK(f.count("SELECT count(*) FROM pragma_foreign_key_check") == 0);
  // References to the rebuilt accounts still hold.
  CHECK_THROWS(f.db->exec("INSERT INTO assignments(account_id, meter_id, valid_from) VALUES (99, 1, 0)"));
  f.db->exec("UPDATE accounts SET status = 'emergency' WHERE id = 1");
  f.db->exec("UPDATE accounts SET status = 'ok' WHERE id = 1");
  CHECK(ledger::verify(*f.db).empty());
  // The view of charges is back, and the append-only rules hold.
  CHECK(f.count("SELECT count(*) FROM charges") >= 1);
  CHECK_THROWS(f.db->exec("UPDATE ledger SET amount = 1 WHERE id = 1"));
  CHECK_THROWS(f.db->exec("DELETE FROM ledger WHERE id = 1"));
  CHECK_THROWS(f.db->exec("INSERT INTO ledger(account_id, time, kind, amount, balance, hash) "
                          "VALUES (1, 0, 'gift', 1, 1, x'00')"));
  // An opening balance chains on like any entry.
  storage::Transaction tx(*f.db);
  auto o = billing::post_opening_in(*f.db, f.config, "A2", Money::from_minor(-300), "tester", 7200, true);
  tx.commit();
  CHECK(o.kind == billing::PaymentKind::opening);
  CHECK(o.receipt > 0);
  CHECK(f.count("SELECT count(*) FROM ledger WHERE kind = 'opening'") == 1);
  CHECK(ledger::verify(*f.db).empty());
  // Never through post_payment.
  billing::PaymentRequest r;
  r.account = "A1";
  r.kind = billing::PaymentKind::opening;
  r.amount = Money::from_minor(100);
  CHECK_THROWS_AS(billing::post_payment(*f.db, f.config, r), Error);
}
