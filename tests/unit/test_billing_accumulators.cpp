#include <doctest/doctest.h>

#include "test_billing_fixture.hpp"

#include <kwh/billing/accumulator_check.hpp>
#include <kwh/ledger/accumulator.hpp>
#include <kwh/ledger/ledger.hpp>

#include <algorithm>
#include <random>

using namespace kwh;
using namespace kwh::billing;

namespace {

UnixTime utc(const char* text) {
  auto t = parse_time(text);
  REQUIRE(t.ok());
  return *t;
}

bool has(const std::vector<std::string>& findings, const std::string& part) {
  return std::any_of(findings.begin(), findings.end(), [&](const std::string& f) { return f.find(part) != std::string::npos; });
}

// Every check kwh check makes of the money.
std::vector<std::string> checks(test::BillingFixture& f) {
  auto out = ledger::verify(*f.db);
  for (auto& x : ledger::verify_hashes(*f.db)) out.push_back(x);
  for (auto& x : verify_accumulators(*f.db, f.config)) out.push_back(x);
  return out;
}

// A site of one meter on a flat tariff, and readings every 10 minutes from a day's start.
struct Day {
  test::BillingFixture f;
  std::int64_t m = 0;
  UnixTime t = 0;
  std::int64_t v = 0;
  Day() {
    m = f.add_meter("M1");
    f.add_flat("std", "1.3333");
    f.open("A1", "std", {"M1"}, utc("2026-03-01T00:00:00Z"));
    f.pay("A1", 100'000);
    t = utc("2026-03-01T00:00:00Z");
    f.clock = utc("2026-03-01T12:00:00Z");
    f.ingest(m, t, v);
  }
  void step(int readings, std::int64_t wh = 777) {
    for (int i = 0; i < readings; ++i) {
      t += 600;
      v += wh;
      f.ingest(m, t, v);
    }
  }
};

} // namespace

TEST_CASE("Accumulators: a day's charges stay open, part of the balance, until the day is over; then one entry") {
  Day d;
  d.step(20); // 20 readings of 777 Wh at 1.3333: 20.72 in all, charged reading by reading
  CHECK(d.f.count("SELECT count(*) FROM ledger WHERE kind = 'charge'") == 0);
  CHECK(d.f.count("SELECT count(*) FROM accumulators") == 1);
  CHECK(d.f.count("SELECT quantity FROM accumulators") == 20 * 777);
  const std::int64_t charged = d.f.count("SELECT amount FROM accumulators");
  CHECK(charged == 2071); // 15 540 Wh at 1.3333 is 20.7195: 20.71 charged, the rest carried
  CHECK(d.f.balance("A1") == 100'000 - charged);
  CHECK(checks(d.f).empty());
  // Not over yet (12:00): nothing is posted.
  CHECK(d.f.post_days() == 0);
  // The next day's first reading closes the day.
  d.t = utc("2026-03-02T00:10:00Z");
  d.v += 777;
  d.f.ingest(d.m, d.t, d.v);
  CHECK(d.f.count("SELECT count(*) FROM ledger WHERE kind = 'charge'") == 1);
  CHECK(d.f.count("SELECT quantity FROM ledger WHERE kind = 'charge'") == 20 * 777);
  CHECK(d.f.count("SELECT -amount FROM ledger WHERE kind = 'charge'") == charged);
  CHECK(d.f.count("SELECT t0 FROM ledger WHERE kind = 'charge'") == utc("2026-03-01T00:00:00Z"));
  CHECK(d.f.count("SELECT t1 FROM ledger WHERE kind = 'charge'") == utc("2026-03-01T03:20:00Z"));
  CHECK(d.f.count("SELECT count(*) FROM accumulators WHERE day = " + std::to_string(utc("2026-03-02T00:00:00Z"))) == 1);
  // Posting does not move the balance (it came before the new day's first charge, which is
  // open now), and nothing else was open then.
  auto e = ledger::entries(*d.f.db, 1);
  REQUIRE(e.size() == 2);
  CHECK(e[1].balance == d.f.balance("A1") + d.f.count("SELECT amount FROM accumulators"));
  CHECK(e[1].balance == 100'000 - charged);
  CHECK_FALSE(e[1].accrued);
  CHECK(checks(d.f).empty());
}

TEST_CASE("Accumulators: the rounding carry holds over days: the charged total is the exact total, to a minor unit") {
  Day d;
  std::mt19937_64 rng(11);
  std::int64_t total_wh = 0;
  for (int i = 0; i < 2000; ++i) { // about two weeks of 10-minute readings
    const std::int64_t wh = static_cast<std::int64_t>(rng() % 1500);
    total_wh += wh;
    d.step(1, wh);
  }
  d.f.clock = d.t + 2 * 86'400;
  d.f.post_days();
  // Exactly 1.3333 × total_wh / 1000 in major units = total_wh × 13 333 / 100 000 minor units.
  const std::int64_t exact_floor = total_wh * 13'333 / 100'000;
  const std::int64_t charged = -d.f.count("SELECT sum(amount) FROM ledger WHERE kind = 'charge'");
  CHECK(charged == exact_floor);
  CHECK(d.f.count("SELECT count(*) FROM accumulators") == 0);
  CHECK(d.f.count("SELECT count(*) FROM ledger WHERE kind = 'charge'") ==
        d.f.count("SELECT count(DISTINCT (time / 86400)) FROM ledger WHERE kind = 'charge'"));
  CHECK(checks(d.f).empty());
}

TEST_CASE("Accumulators: detach and close post the day at once") {
  Day d;
  d.step(6);
  {
    storage::Transaction tx(*d.f.db);
    detach_meter(*d.f.db, "A1", "M1", d.t);
    tx.commit();
  }
  CHECK(d.f.count("SELECT count(*) FROM accumulators") == 0);
  CHECK(d.f.count("SELECT quantity FROM ledger WHERE kind = 'charge'") == 6 * 777);
  CHECK(checks(d.f).empty());

  Day e;
  e.step(6);
  close_account(*e.f.db, e.f.config, "A1", true, "op", e.t);
  CHECK(e.f.count("SELECT count(*) FROM accumulators") == 0);
  CHECK(e.f.balance("A1") == 0);
  CHECK(e.f.count("SELECT quantity FROM ledger WHERE kind = 'charge'") == 6 * 777);
  CHECK(checks(e.f).empty());
}

TEST_CASE("Accumulators: a new tariff version posts what the old one priced and starts anew") {
  Day d;
  d.step(6); // to 01:00
  d.f.add_flat("std", "2.0000", utc("2026-03-01T01:30:00Z"));
  d.step(6); // to 02:00: the interval 01:20-01:30 is split at 01:30
  CHECK(d.f.count("SELECT count(*) FROM ledger WHERE kind = 'charge'") == 1);
  CHECK(d.f.count("SELECT t1 FROM ledger WHERE kind = 'charge'") == utc("2026-03-01T01:30:00Z"));
  CHECK(d.f.count("SELECT t0 FROM accumulators") == utc("2026-03-01T01:30:00Z"));
  CHECK(d.f.count("SELECT (SELECT quantity FROM ledger WHERE kind = 'charge') + (SELECT quantity FROM accumulators)") ==
        12 * 777);
  CHECK(checks(d.f).empty());
}

TEST_CASE("Accumulators: kwh check finds one edited behind kwh's back, its hash made again or not") {
  Day d;
  d.step(10);
  REQUIRE(checks(d.f).empty());
  SUBCASE("the quantity, without the hash") {
    d.f.db->exec("UPDATE accumulators SET quantity = quantity - 777");
    auto found = checks(d.f);
    CHECK(has(found, "the accumulator of account A1, meter M1, band flat, 2026-03-01 does not match its hash"));
    CHECK(has(found, "accumulators: account A1, meter M1, 2026-03-01: charged for 6993 Wh but its readings give 7770 Wh"));
  }
  SUBCASE("the quantity, with its hash made again") {
    auto a = ledger::open_accumulators(*d.f.db).at(0);
    a.quantity -= 777;
    ledger::save(*d.f.db, a);
    auto found = checks(d.f);
    CHECK(found.size() == 1);
    CHECK(has(found, "charged for 6993 Wh but its readings give 7770 Wh"));
  }
  SUBCASE("the amount, the balance left alone") {
    d.f.db->exec("UPDATE accumulators SET amount = amount - 100");
    auto found = checks(d.f);
    CHECK(has(found, "does not match its hash"));
    CHECK(has(found, "account A1: balance"));
  }
  SUBCASE("a reading changed under an open day") {
    d.f.db->exec("UPDATE readings SET value = value + 5 WHERE t = " + std::to_string(d.t));
    CHECK(has(checks(d.f), "but its readings give 7775 Wh"));
  }
}
