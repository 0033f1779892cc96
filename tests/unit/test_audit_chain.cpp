#include <doctest/doctest.h>

#include "temp_dir.hpp"

#include <kwh/audit/log.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/crypto/sha256.hpp>

#include <string>

using namespace kwh;

namespace {

struct AuditDb {
  test::TempDir dir;
  std::unique_ptr<storage::Database> db;

  AuditDb() {
    db = storage::Database::open(dir.file("kwh.db"), storage::OpenMode::create);
    storage::migrate(*db);
  }
  void add(const std::string& op, const std::string& action, const std::string& subject, UnixTime t) {
    audit::Entry e;
    e.time = t;
    e.operator_name = op;
    e.action = action;
    e.subject = subject;
    e.command = "kwh " + action + " " + subject;
    audit::append(*db, e);
  }
  // What someone with sqlite3 can do: the triggers are only a guard against mistakes.
  void tamper(const std::string& sql) {
    db->exec("DROP TRIGGER IF EXISTS audit_no_update");
    db->exec("DROP TRIGGER IF EXISTS audit_no_delete");
    db->exec(sql);
  }
};

void fill(AuditDb& a) {
  a.add("root", "operator add", "alice", 1000);
  a.add("root", "gateway add", "G1", 1001);
  a.add("alice", "sell", "A1", 1002);
  a.add("alice", "relay off", "M1 M2", 1003);
  a.add("root", "operator remove", "alice", 1004);
}

bool any_mentions(const std::vector<std::string>& findings, const std::string& text) {
  for (const auto& f : findings)
    if (f.find(text) != std::string::npos) return true;
  return false;
}

} // namespace

TEST_CASE("Audit: entries are appended in order with ids, and an untouched chain verifies") {
  AuditDb a;
  CHECK(audit::verify(*a.db).empty());
  CHECK_FALSE(audit::head(*a.db).has_value());
  fill(a);
  auto all = audit::list(*a.db);
  REQUIRE(all.size() == 5);
  CHECK(all[0].id == 1);
  CHECK(all[2].entry.operator_name == "alice");
  CHECK(all[2].entry.action == "sell");
  CHECK(all[2].entry.subject == "A1");
  CHECK(all[3].entry.command == "kwh relay off M1 M2");
  CHECK(audit::list(*a.db, 1003).size() == 2);
  CHECK(audit::verify(*a.db).empty());
  auto head = audit::head(*a.db);
  REQUIRE(head.has_value());
  CHECK(head->id == 5);
  CHECK(head->hash_hex.size() == 64);
  CHECK(audit::verify(*a.db, head->hash_hex).empty());
}

TEST_CASE("Audit: the hash is SHA-256 of the previous hash and the canonical entry") {
  AuditDb a;
  fill(a);
  auto all = audit::list(*a.db);
  std::string first = audit::chain_hash("", 1, all[0].entry);
  CHECK(to_hex(sha256(std::string(32, '\0') + audit::canonical(1, all[0].entry))) == all[0].hash_hex);
  Sha256 h;
  h.update(first).update(audit::canonical(2, all[1].entry));
  CHECK(to_hex(h.finish()) == all[1].hash_hex);
  // Field boundaries are part of the serialisation: moving a character between fields changes it.
  audit::Entry x{1, "ab", "c", std::nullopt, std::nullopt, std::nullopt};
  audit::Entry y{1, "a", "bc", std::nullopt, std::nullopt, std::nullopt};
  CHECK(audit::canonical(1, x) != audit::canonical(1, y));
  audit::Entry empty_subject{1, "a", "b", std::string(), std::nullopt, std::nullopt};
  audit::Entry no_subject{1, "a", "b", std::nullopt, std::nullopt, std::nullopt};
  CHECK(audit::canonical(1, empty_subject) != audit::canonical(1, no_subject));
}

TEST_CASE("Audit: the append-only triggers refuse updates and deletes through SQL") {
  AuditDb a;
  fill(a);
  CHECK_THROWS_AS(a.db->exec("UPDATE audit SET operator = 'mallory' WHERE id = 3"), Error);
  CHECK_THROWS_AS(a.db->exec("DELETE FROM audit WHERE id = 3"), Error);
  CHECK(audit::verify(*a.db).empty());
}

TEST_CASE("Audit: an edited entry is found, and only that one") {
  AuditDb a;
  fill(a);
  SUBCASE("operator changed") { a.tamper("UPDATE audit SET operator = 'bob' WHERE id = 3"); }
  SUBCASE("subject changed") { a.tamper("UPDATE audit SET subject = 'A9' WHERE id = 3"); }
  SUBCASE("time changed") { a.tamper("UPDATE audit SET time = time + 1 WHERE id = 3"); }
  SUBCASE("detail added") { a.tamper("UPDATE audit SET detail = 'x' WHERE id = 3"); }
  auto findings = audit::verify(*a.db);
  REQUIRE(findings.size() == 1);
  CHECK(findings[0].find("audit: entry 3 ") == 0);
  CHECK(any_mentions(findings, "altered"));
}

TEST_CASE("Audit: a removed entry in the middle is found") {
  AuditDb a;
  fill(a);
  a.tamper("DELETE FROM audit WHERE id = 3");
  auto findings = audit::verify(*a.db);
  CHECK(any_mentions(findings, "entry 3 is missing"));
  CHECK(any_mentions(findings, "entry 4 "));
}

TEST_CASE("Audit: a removed entry with the ids renumbered is still found") {
  AuditDb a;
  fill(a);
  a.tamper("DELETE FROM audit WHERE id = 2; UPDATE audit SET id = id - 1 WHERE id > 2");
  auto findings = audit::verify(*a.db);
  CHECK_FALSE(findings.empty());
  CHECK(any_mentions(findings, "entry 2 "));
}

TEST_CASE("Audit: two entries swapped are found") {
  AuditDb a;
  fill(a);
  a.tamper("UPDATE audit SET id = 100 WHERE id = 2; UPDATE audit SET id = 2 WHERE id = 3; "
           "UPDATE audit SET id = 3 WHERE id = 100");
  auto findings = audit::verify(*a.db);
  CHECK(any_mentions(findings, "entry 2 "));
  CHECK(any_mentions(findings, "entry 3 "));
}

TEST_CASE("Audit: a rewritten chain passes alone but not against an anchored head") {
  AuditDb a;
  fill(a);
  const std::string anchored = audit::head(*a.db)->hash_hex;
  // Someone who knows the scheme edits entry 3 and recomputes every hash from there on.
  a.tamper("UPDATE audit SET operator = 'bob' WHERE id = 3");
  auto all = audit::list(*a.db);
  std::string previous = audit::chain_hash("", 1, all[0].entry);
  previous = audit::chain_hash(previous, 2, all[1].entry);
  for (std::size_t i = 2; i < all.size(); ++i) {
    previous = audit::chain_hash(previous, all[i].id, all[i].entry);
    a.db->prepare("UPDATE audit SET hash = ?1 WHERE id = ?2")
        .bind_blob(1, previous.data(), previous.size())
        .bind(2, all[i].id)
        .run();
  }
  CHECK(audit::verify(*a.db).empty()); // the chain alone cannot tell
  auto findings = audit::verify(*a.db, anchored);
  REQUIRE(findings.size() == 1);
  CHECK(any_mentions(findings, "expected head"));
}

TEST_CASE("Audit: append inside the caller's transaction is rolled back with it") {
  AuditDb a;
  fill(a);
  {
    storage::Transaction tx(*a.db);
    a.add("kwhd", "relay off", "M1", 2000);
    // no commit: the change and its audit entry go together
  }
  CHECK(audit::list(*a.db).size() == 5);
  {
    storage::Transaction tx(*a.db);
    a.add("kwhd", "relay off", "M1", 2000);
    tx.commit();
  }
  CHECK(audit::list(*a.db).size() == 6);
  CHECK(audit::verify(*a.db).empty());
}

TEST_CASE("Audit: the command line names the program, quotes for a shell, and never keeps a secret") {
  const char* sell[] = {"/usr/local/bin/kwh", "sell", "S-101", "200", "--ref", "till 3"};
  CHECK(audit::command_line(6, sell) == "kwh sell S-101 200 --ref 'till 3'");
  const char* gateway[] = {"./build/kwh",  "gateway",   "add", "g", "--dlt645-tcp", "10.0.0.1:4001", "--password",
                           "02123456",     "--operator-code=00000001"};
  CHECK(audit::command_line(9, gateway) ==
        "kwh gateway add g --dlt645-tcp 10.0.0.1:4001 --password *** --operator-code=***");
  const char* password_eq[] = {"kwh", "gateway", "add", "g", "--password=02123456"};
  CHECK(audit::command_line(5, password_eq) == "kwh gateway add g --password=***");
}
