#include <doctest/doctest.h>

#include <kwh/auth/commands.hpp>
#include <kwh/hub/check.hpp>
#include <kwh/hub/intent.hpp>
#include <kwh/ledger/ledger.hpp>

using namespace kwh;

namespace {

// A ledger as the site writes it: balances following from the amounts, each hash chained.
std::vector<ledger::Entry> chain(const std::vector<std::pair<std::int64_t, std::int64_t>>& account_amounts) {
  std::vector<ledger::Entry> out;
  std::map<std::int64_t, std::int64_t> balance;
  std::string previous;
  for (const auto& [account, amount] : account_amounts) {
    ledger::Entry e;
    e.id = static_cast<std::int64_t>(out.size()) + 1;
    e.account_id = account;
    e.time = 1'700'000'000 + e.id;
    e.kind = amount > 0 ? "sale" : "charge";
    e.amount = amount;
    e.balance = balance[account] += amount;
    if (amount > 0) e.ref = "r" + std::to_string(e.id);
    e.hash = ledger::chain_hash(previous, e);
    previous = e.hash;
    out.push_back(e);
  }
  return out;
}

std::vector<std::string> check(const std::vector<ledger::Entry>& entries) {
  hub::LedgerChecker checker("north");
  std::vector<std::string> problems;
  for (const auto& e : entries) checker.add(e, problems);
  return problems;
}

const std::vector<std::pair<std::int64_t, std::int64_t>> k_sales = {{1, 500}, {2, 300}, {1, -20}, {2, -5}, {1, 100}};

} // namespace

TEST_CASE("Hub check: a site's ledger as written is clean") { CHECK(check(chain(k_sales)).empty()); }

TEST_CASE("Hub check: a row changed at the hub is named by its id") {
  auto entries = chain(k_sales);
  SUBCASE("amount and balance changed together: the hash tells, and the account's next row") {
    entries[2].amount -= 100;
    entries[2].balance -= 100;
    const auto problems = check(entries);
    REQUIRE(problems.size() == 2);
    CHECK(problems[0].find("site north: ledger entry 3 does not match its hash") != std::string::npos);
    CHECK(problems[1].find("entry 5 of account id 1 says balance 580 but the account's entries sum to 480") !=
          std::string::npos);
  }
  SUBCASE("a balance alone: the hash and the account's sums tell") {
    entries[3].balance += 1;
    const auto problems = check(entries);
    REQUIRE(problems.size() == 2);
    CHECK(problems[0].find("entry 4 does not match its hash") != std::string::npos);
    CHECK(problems[1].find("entry 4 of account id 2 says balance 296 but the account's entries sum to 295") !=
          std::string::npos);
  }
  SUBCASE("a row missing") {
    entries.erase(entries.begin() + 1);
    const auto problems = check(entries);
    REQUIRE(!problems.empty());
    CHECK(problems[0].find("entry 3 follows entry 1: entries 2 to 2 are missing") != std::string::npos);
  }
}

TEST_CASE("Hub check: a ledger the hub holds from a later entry is checked from there") {
  auto entries = chain(k_sales);
  entries.erase(entries.begin(), entries.begin() + 2); // entries 1 and 2 came before the outbox
  CHECK(check(entries).empty());
  entries[2].balance += 7; // entry 5: account 1 from 480 (entry 3) + 100
  CHECK(check(entries).size() == 2);
}

TEST_CASE("Hub check: accrued is part of the balance, as at the site") {
  auto entries = chain(k_sales);
  // Entry 5 written while 30 was accruing: the balance after it is 30 lower, and hashed so.
  entries[4].balance -= 30;
  entries[4].accrued = 30;
  entries[4].hash = ledger::chain_hash(entries[3].hash, entries[4]);
  CHECK(check(entries).empty());
}

TEST_CASE("Hub intents: an office sale's ledger ref is apart from the site's own refs") {
  CHECK(hub::ledger_ref("desk3-0042") == "hub:desk3-0042");
}

TEST_CASE("Hub commands: the office's need no site database; status is a site command") {
  for (const char* path : {"hub init", "hub sell", "hub report", "hub check"})
    CHECK_MESSAGE(!auth::command_rule(path).uses_database, path);
  CHECK(auth::command_rule("hub status").uses_database);
}
