#include <doctest/doctest.h>

#include "test_billing_fixture.hpp"

#include <kwh/billing/standing.hpp>
#include <kwh/billing/status.hpp>
#include <kwh/ledger/ledger.hpp>

#include <random>

using namespace kwh;
using namespace kwh::billing;

namespace {

UnixTime utc(const char* text) {
  auto t = parse_time(text);
  REQUIRE(t.ok());
  return *t;
}

struct Billed {
  test::BillingFixture f;
  std::int64_t m = 0;
  Billed(std::optional<std::int64_t> alarm1 = {}, std::optional<std::int64_t> alarm2 = {}, std::int64_t credit = 0) {
    m = f.add_meter("M1");
    f.add_flat("std", "1.0000");
    f.open("A1", "std", {"M1"}, 0, alarm1, alarm2, credit);
  }
};

} // namespace

TEST_CASE("Billing: the first reading is the baseline; each next one charges its delta") {
  Billed b;
  b.f.pay("A1", 10'000);
  auto r0 = b.f.ingest(b.m, 1000, 500'000);
  CHECK(r0.outcome == Outcome::baseline);
  CHECK(b.f.balance("A1") == 10'000);
  auto r1 = b.f.ingest(b.m, 4600, 512'345);
  CHECK(r1.outcome == Outcome::billed);
  CHECK(r1.quantity == 12'345);
  CHECK(r1.charged == 1'234);
  CHECK(b.f.count("SELECT carry FROM accounts") == 500'000'000);
  auto r2 = b.f.ingest(b.m, 8200, 512'350);
  CHECK(r2.charged == 1);
  CHECK(b.f.balance("A1") == 10'000 - 1'235);
  CHECK(b.f.count("SELECT sum(quantity) FROM daily_usage WHERE account_id = 1") == 12'350);
  CHECK(b.f.count("SELECT sum(cost) FROM daily_usage WHERE account_id = 1") == 1'235);
  // The same reading again is skipped; another value at that time, or an older time, is an error.
  CHECK(b.f.ingest(b.m, 8200, 512'350).outcome == Outcome::duplicate);
  CHECK_THROWS_AS(b.f.ingest(b.m, 8200, 512'351), Error);
  CHECK_THROWS_AS(b.f.ingest(b.m, 8000, 512'351), Error);
  CHECK(ledger::verify(*b.f.db).empty());
}

TEST_CASE("Billing: a counter that goes backwards is a reset: event, no charge, new baseline") {
  Billed b;
  b.f.pay("A1", 10'000);
  b.f.ingest(b.m, 0, 900'000);
  auto r = b.f.ingest(b.m, 3600, 100);
  CHECK(r.outcome == Outcome::counter_reset);
  CHECK(b.f.balance("A1") == 10'000);
  CHECK(b.f.count("SELECT count(*) FROM events WHERE kind = 'counter_reset' AND meter_id = 1") == 1);
  CHECK(b.f.count("SELECT flags FROM readings WHERE t = 3600") == 2);
  auto next = b.f.ingest(b.m, 7200, 1'100); // 1 000 Wh from the new baseline
  CHECK(next.charged == 100);
  CHECK(b.f.balance("A1") == 9'900);
}

TEST_CASE("Billing: an implausible reading is held until accepted or rejected") {
  Billed b;
  b.f.pay("A1", 100'000);
  b.f.ingest(b.m, 0, 0);
  // In one hour a 100 kW meter can draw 150 kWh with the 1.5 margin; 150 001 Wh is implausible.
  auto held = b.f.ingest(b.m, 3600, 150'001);
  CHECK(held.outcome == Outcome::held);
  REQUIRE(held.held_id);
  CHECK(b.f.balance("A1") == 100'000);
  CHECK(b.f.count("SELECT count(*) FROM readings") == 1);
  CHECK(b.f.count("SELECT count(*) FROM events WHERE kind = 'implausible' AND ended IS NULL") == 1);
  CHECK(b.f.ingest(b.m, 3600, 150'001).outcome == Outcome::duplicate); // the same again: still one held
  CHECK(b.f.count("SELECT count(*) FROM held_readings") == 1);
  // Exactly at the limit is plausible.
  b.f.add_meter("M2");
  {
    storage::Transaction tx(*b.f.db);
    attach_meter(*b.f.db, "A1", "M2", 0);
    tx.commit();
  }
  b.f.ingest(2, 0, 0);
  CHECK(b.f.ingest(2, 3600, 150'000).outcome == Outcome::billed);
  CHECK(b.f.balance("A1") == 100'000 - 15'000);

  SUBCASE("accept: billed as if it had arrived, and the new baseline") {
    storage::Transaction tx(*b.f.db);
    Biller biller(*b.f.db, b.f.config);
    auto res = biller.accept_held(*held.held_id, "op");
    tx.commit();
    CHECK(res.charged == 15'000);
    CHECK(b.f.balance("A1") == 100'000 - 15'000 - 15'000);
    CHECK(b.f.count("SELECT value FROM readings WHERE meter_id = 1 ORDER BY t DESC LIMIT 1") == 150'001);
    CHECK(b.f.count("SELECT count(*) FROM held_readings WHERE state = 'accepted'") == 1);
    CHECK(b.f.count("SELECT count(*) FROM events WHERE kind = 'implausible' AND ended IS NULL") == 0);
    CHECK_THROWS_AS(biller.reject_held(*held.held_id, "op"), Error);
  }
  SUBCASE("reject: discarded, the baseline stays") {
    storage::Transaction tx(*b.f.db);
    Biller biller(*b.f.db, b.f.config);
    biller.reject_held(*held.held_id, "op");
    tx.commit();
    CHECK(b.f.count("SELECT count(*) FROM held_readings WHERE state = 'rejected'") == 1);
    auto next = b.f.ingest(b.m, 7200, 1'000); // from the old baseline 0
    CHECK(next.charged == 100);
  }
}

TEST_CASE("Billing: each status crossing downward writes one event, not one per reading") {
  Billed b(5'000, 2'000, 0); // alarm1 50.00, alarm2 20.00
  b.f.pay("A1", 10'000);
  b.f.ingest(b.m, 0, 0);
  UnixTime t = 0;
  std::int64_t v = 0;
  auto step = [&](std::int64_t wh) {
    t += 3600;
    v += wh;
    return b.f.ingest(b.m, t, v);
  };
  for (int i = 0; i < 4; ++i) step(10'000); // 100 -> 60
  CHECK(b.f.status("A1") == "ok");
  step(10'000); // 50: alarm1
  step(5'000);  // 45
  step(5'000);  // 40
  CHECK(b.f.status("A1") == "alarm1");
  for (int i = 0; i < 3; ++i) step(7'000); // 19: alarm2
  step(1'000);
  CHECK(b.f.status("A1") == "alarm2");
  for (int i = 0; i < 3; ++i) step(10'000); // below 0: arrears
  CHECK(b.f.status("A1") == "arrears");
  CHECK(b.f.count("SELECT count(*) FROM events WHERE kind = 'alarm1'") == 1);
  CHECK(b.f.count("SELECT count(*) FROM events WHERE kind = 'alarm2'") == 1);
  CHECK(b.f.count("SELECT count(*) FROM events WHERE kind = 'arrears'") == 1);
  CHECK(b.f.count("SELECT count(*) FROM commands WHERE action = 'relay_off' AND reason = 'arrears'") == 1);
  CHECK(b.f.count("SELECT count(*) FROM meters WHERE relay_reason = 'arrears'") == 1);
  // A top-up ends the alarms; dropping again writes new events.
  b.f.pay("A1", 10'000); // -12.00 -> 88.00
  CHECK(b.f.status("A1") == "ok");
  CHECK(b.f.count("SELECT count(*) FROM events WHERE kind IN ('alarm1', 'alarm2', 'arrears') AND ended IS NULL") == 0);
  step(60'000); // 28.00
  CHECK(b.f.status("A1") == "alarm1");
  CHECK(b.f.count("SELECT count(*) FROM events WHERE kind = 'alarm1'") == 2);
}

TEST_CASE("Billing: a drop through several levels at once writes one event for each level") {
  Billed b(5'000, 2'000, 0);
  b.f.pay("A1", 10'000);
  b.f.ingest(b.m, 0, 0);
  auto r = b.f.ingest(b.m, 3600, 110'000); // 100.00 -> -10.00
  CHECK(r.events == std::vector<std::string>{"alarm1", "alarm2", "arrears"});
  CHECK(r.commands.size() == 1);
}

TEST_CASE("Billing: automatic disconnection waits for the end of the friendly hours and days") {
  Billed b;
  b.f.config.billing.friendly_hours = {{18 * 60, 8 * 60}}; // 18:00-08:00
  b.f.config.billing.friendly_days = {0};                  // Sunday
  // 2026-11-24 (Tuesday) 20:00: postponed to Wednesday 08:00.
  CHECK(friendly_not_before(b.f.config.billing, utc("2026-11-24T20:00:00Z")) == utc("2026-11-25T08:00:00Z"));
  CHECK(friendly_not_before(b.f.config.billing, utc("2026-11-25T07:00:00Z")) == utc("2026-11-25T08:00:00Z"));
  CHECK(friendly_not_before(b.f.config.billing, utc("2026-11-25T12:00:00Z")) == utc("2026-11-25T12:00:00Z"));
  // Saturday 20:00 -> Sunday is friendly all day -> Monday 08:00.
  CHECK(friendly_not_before(b.f.config.billing, utc("2026-11-28T20:00:00Z")) == utc("2026-11-30T08:00:00Z"));

  b.f.clock = utc("2026-11-24T20:00:00Z");
  b.f.ingest(b.m, 0, 0);
  b.f.ingest(b.m, 3600, 1'000);
  CHECK(b.f.count("SELECT not_before FROM commands WHERE action = 'relay_off'") == utc("2026-11-25T08:00:00Z"));
  // Paying before then cancels the pending disconnection.
  b.f.pay("A1", 1'000, PaymentKind::sale, {}, b.f.clock);
  CHECK(b.f.count("SELECT count(*) FROM commands WHERE state = 'pending'") == 0);
  CHECK(b.f.count("SELECT count(*) FROM commands WHERE state = 'cancelled'") == 1);
  CHECK(b.f.count("SELECT count(*) FROM meters WHERE relay_reason IS NULL") == 1);
}

TEST_CASE("Billing: relay modes protect and off") {
  Billed b;
  b.f.db->exec("UPDATE meters SET relay_mode = 'protect'");
  b.f.ingest(b.m, 0, 0);
  b.f.ingest(b.m, 3600, 1'000);
  CHECK(b.f.status("A1") == "arrears");
  CHECK(b.f.count("SELECT count(*) FROM commands") == 0);
  b.f.db->exec("UPDATE meters SET relay_mode = 'off', relay_state = 'on'");
  b.f.ingest(b.m, 7200, 2'000);
  CHECK(b.f.count("SELECT count(*) FROM commands WHERE action = 'relay_off'") == 1);
  b.f.ingest(b.m, 10800, 3'000); // still pending: not queued twice
  CHECK(b.f.count("SELECT count(*) FROM commands WHERE action = 'relay_off'") == 1);
}

TEST_CASE("Billing: overload writes one event while it lasts, and trips the relay when configured") {
  Billed b;
  b.f.pay("A1", 100'000);
  b.f.db->exec("UPDATE meters SET overload_w = 5000");
  b.f.ingest(b.m, 0, 0, 1'000);
  auto r = b.f.ingest(b.m, 3600, 6'000, 6'000);
  CHECK(r.events == std::vector<std::string>{"overload"});
  b.f.ingest(b.m, 7200, 12'000, 6'500);
  CHECK(b.f.count("SELECT count(*) FROM events WHERE kind = 'overload'") == 1);
  CHECK(b.f.count("SELECT count(*) FROM commands") == 0); // overload_action = event
  b.f.ingest(b.m, 10800, 13'000, 1'000);
  CHECK(b.f.count("SELECT count(*) FROM events WHERE kind = 'overload' AND ended IS NOT NULL") == 1);
  b.f.config.billing.overload_action = config::OverloadAction::trip;
  b.f.ingest(b.m, 14400, 19'000, 6'000);
  CHECK(b.f.count("SELECT count(*) FROM commands WHERE action = 'relay_off' AND reason = 'overload'") == 1);
  CHECK(b.f.count("SELECT count(*) FROM meters WHERE relay_reason = 'overload'") == 1);
}

TEST_CASE("Billing: consumption outside the meter's assignment is nobody's, pro rata by time") {
  test::BillingFixture f;
  auto m = f.add_meter("M1");
  f.add_flat("std", "1.0000");
  f.ingest(m, 0, 0);
  f.open("A1", "std", {}, 0);
  f.pay("A1", 100'000);
  {
    storage::Transaction tx(*f.db);
    attach_meter(*f.db, "A1", "M1", 1800); // half-way through the next interval
    tx.commit();
  }
  f.ingest(m, 3600, 10'000); // half of it is A1's: 5 kWh
  CHECK(f.balance("A1") == 100'000 - 500);
  CHECK(f.count("SELECT quantity FROM daily_usage WHERE account_id = 0") == 5'000);
  {
    storage::Transaction tx(*f.db);
    detach_meter(*f.db, "A1", "M1", 5400);
    tx.commit();
  }
  f.ingest(m, 7200, 20'000); // the first half of this hour is A1's
  CHECK(f.balance("A1") == 100'000 - 1'000);
  CHECK(f.count("SELECT quantity FROM daily_usage WHERE account_id = 0") == 10'000);
  CHECK(f.count("SELECT sum(quantity) FROM daily_usage") == 20'000);
}

TEST_CASE("Billing: a replaced meter's account moves to the new meter with its balance") {
  test::BillingFixture f;
  auto old_m = f.add_meter("M1");
  auto new_m = f.add_meter("M2");
  f.add_flat("std", "1.0000");
  f.open("A1", "std", {"M1"}, 0);
  f.pay("A1", 10'000);
  f.ingest(old_m, 0, 0);
  f.ingest(old_m, 3600, 1'000);
  {
    storage::Transaction tx(*f.db);
    replace_meter(*f.db, "M1", "M2", 4000);
    tx.commit();
  }
  CHECK(f.balance("A1") == 9'900);
  CHECK(find_account(*f.db, "A1").meters == std::vector<std::string>{"M2"});
  CHECK(f.count("SELECT count(*) FROM events WHERE kind = 'meter_replaced' AND account_id = 1") == 1);
  auto first = f.ingest(new_m, 4000, 77'000); // the new meter's own counter: its baseline
  CHECK(first.outcome == Outcome::baseline);
  f.ingest(new_m, 7600, 78'000);
  CHECK(f.balance("A1") == 9'800);
  // The old meter has left service; the new one is taken.
  CHECK(f.count("SELECT removed FROM meters WHERE name = 'M1'") == 4000);
  CHECK_THROWS_AS(f.open("A2", "std", {"M1"}, 5000), Error);
  CHECK_THROWS_AS(f.open("A3", "std", {"M2"}, 5000), Error);
}

TEST_CASE("Billing: time-of-use readings with band registers charge each band at its price") {
  test::BillingFixture f;
  auto m = f.add_meter("M1");
  f.add_tariff("tou", "[bands]\npeak = \"1.2000\"\nflat = \"0.8000\"\nvalley = \"0.3500\"\n");
  f.open("A1", "tou", {"M1"});
  f.pay("A1", 100'000);
  Reading r;
  r.meter_id = m;
  r.time = 0;
  r.value = 0;
  r.peak = 0;
  r.flat = 0;
  r.valley = 0;
  storage::Transaction tx(*f.db);
  Biller biller(*f.db, f.config);
  biller.ingest(r);
  r.time = 3600;
  r.value = 6'000;
  r.peak = 1'000;
  r.flat = 2'000;
  r.valley = 3'000;
  auto res = biller.ingest(r);
  CHECK(biller.post_days_over() == 3); // one accumulator per band; 1970-01-01 is long over
  tx.commit();
  // 1.20 + 1.60 + 1.05 = 3.85
  CHECK(res.charged == 385);
  CHECK(f.balance("A1") == 100'000 - 385);
  CHECK(f.count("SELECT count(*) FROM ledger WHERE kind = 'charge'") == 3);
  CHECK(f.count("SELECT quantity FROM ledger WHERE band = 'valley'") == 3'000);
}

TEST_CASE("Billing: random sells, refunds and readings keep balance = sum(ledger) and never disconnect a paid-up account") {
  test::BillingFixture f;
  std::vector<std::int64_t> meters = {f.add_meter("M1"), f.add_meter("M2"), f.add_meter("M3")};
  f.add_flat("std", "1.3333");
  f.open("A1", "std", {"M1", "M2"}, 0, 5'000, 2'000, 0);
  f.open("A2", "std", {"M3"}, 0, {}, {}, 3'000);
  f.config.billing.reconnect_above = Money::from_minor(1'000);
  std::mt19937_64 rng(7);
  std::vector<std::int64_t> value(3, 0);
  UnixTime t = 0;
  for (auto m : meters) f.ingest(m, t, 0);
  for (int step = 0; step < 400; ++step) {
    int what = static_cast<int>(rng() % 4);
    std::string account = rng() % 2 ? "A1" : "A2";
    if (what == 0) {
      f.pay(account, static_cast<std::int64_t>(rng() % 5'000) + 1);
    } else if (what == 1) {
      std::int64_t bal = f.balance(account);
      if (bal > 0) f.pay(account, static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(bal)) + 1, PaymentKind::refund);
    } else {
      std::size_t i = rng() % 3;
      t += 600;
      value[i] += static_cast<std::int64_t>(rng() % 4'000);
      f.ingest(meters[i], t, value[i]);
      // The simulated daemon carries out due commands now and then.
      if (rng() % 3 == 0) {
        f.db->exec("UPDATE meters SET relay_state = 'off' WHERE id IN (SELECT meter_id FROM commands WHERE state = "
                   "'pending' AND action = 'relay_off')");
        f.db->exec("UPDATE meters SET relay_state = 'on' WHERE id IN (SELECT meter_id FROM commands WHERE state = "
                   "'pending' AND action = 'relay_on')");
        f.db->exec("UPDATE commands SET state = 'done' WHERE state = 'pending'");
      }
    }
    CAPTURE(step);
    CHECK(f.count("SELECT count(*) FROM accounts a WHERE balance != (SELECT coalesce(sum(amount), 0) FROM ledger l "
                  "WHERE l.account_id = a.id) - (SELECT coalesce(sum(amount), 0) FROM accumulators c "
                  "WHERE c.account_id = a.id)") == 0);
    CHECK(f.count("SELECT count(*) FROM commands c JOIN assignments s ON s.meter_id = c.meter_id AND s.valid_to IS "
                  "NULL JOIN accounts a ON a.id = s.account_id WHERE c.action = 'relay_off' AND c.state = 'pending' "
                  "AND a.balance > -a.credit_limit") == 0);
    CHECK(f.count("SELECT count(*) FROM accounts WHERE status = 'arrears' AND balance > -credit_limit") == 0);
  }
  CHECK(ledger::verify(*f.db).empty());
  CHECK(f.count("SELECT count(*) FROM commands WHERE action = 'relay_off'") > 0);
}

TEST_CASE("Billing: standing charges are charged once at each site-local day or month boundary") {
  test::BillingFixture f;
  auto m = f.add_meter("M1");
  f.add_tariff("daily", "effective = \"2026-01-01\"\nprice = \"1.0000\"\nstanding_charge = \"1.50\"\nstanding_period = \"day\"\n");
  f.open("A1", "daily", {"M1"}, utc("2026-03-01T10:00:00Z"));
  f.pay("A1", 10'000);
  f.ingest(m, utc("2026-03-01T10:00:00Z"), 0);
  auto r = f.ingest(m, utc("2026-03-03T12:00:00Z"), 1'000); // 1.00 + two days (03-02, 03-03) of 1.50
  CHECK(r.charged == 100 + 300);
  CHECK(f.balance("A1") == 10'000 - 400);
  CHECK(f.count("SELECT count(*) FROM ledger WHERE kind = 'standing'") == 2);
  // Charging up to the same time again writes nothing; the next day is charged once.
  CHECK(charge_standing_all(*f.db, f.config, utc("2026-03-03T23:00:00Z")) == 0);
  CHECK(charge_standing_all(*f.db, f.config, utc("2026-03-04T00:00:00Z")) == 150);
  CHECK(f.count("SELECT count(*) FROM ledger WHERE kind = 'standing'") == 3);

  f.add_tariff("monthly", "effective = \"2026-01-01\"\nprice = \"1.0000\"\nstanding_charge = \"20\"\nstanding_period = \"month\"\n");
  f.open("A2", "monthly", {}, utc("2026-03-15T00:00:00Z"));
  CHECK(charge_standing_all(*f.db, f.config, utc("2026-05-02T00:00:00Z")) == 2'000 * 2 + 150 * 59);
  CHECK(f.count("SELECT count(*) FROM ledger WHERE kind = 'standing' AND account_id = 2") == 2);
  CHECK(ledger::verify(*f.db).empty());
}

TEST_CASE("Billing: a Biller kept between readings sees what another connection changed") {
  Billed b;
  b.f.pay("A1", 10'000);
  b.f.ingest(b.m, 0, 100'000);
  b.f.ingest(b.m, 3600, 101'000); // 1 kWh at 1.0000
  CHECK(b.f.balance("A1") == 9'900);
  // kwh tariff add, kwh meter set and kwh account detach, as another process does them.
  auto other = storage::Database::open(b.f.dir.file("kwh.db"));
  {
    storage::Transaction tx(*other);
    auto body = std::string("price = \"3.0000\"\n");
    auto v = parse_tariff(body, "std.toml", 3600, 2);
    add_tariff_version(*other, "std", v, body, 3600, 2);
    tx.commit();
  }
  b.f.ingest(b.m, 7200, 102'000); // 1 kWh at the new price
  CHECK(b.f.balance("A1") == 9'600);
  other->exec("UPDATE meters SET relay_mode = 'off', relay_state = 'on'");
  auto r = b.f.ingest(b.m, 10'800, 102'000);
  CHECK(r.commands.size() == 1); // held open: a relay_off is queued at once
  other->exec("UPDATE assignments SET valid_to = 10800");
  b.f.ingest(b.m, 14'400, 103'000); // nobody's now
  CHECK(b.f.balance("A1") == 9'600);
  CHECK(b.f.count("SELECT quantity FROM daily_usage WHERE account_id = 0") == 1'000);
}

TEST_CASE("Billing: what a rolled-back transaction stored is not the next reading's baseline") {
  Billed b;
  b.f.pay("A1", 10'000);
  b.f.ingest(b.m, 0, 100'000);
  {
    storage::Transaction tx(*b.f.db);
    Reading r;
    r.meter_id = b.m;
    r.time = 3600;
    r.value = 105'000;
    b.f.biller().ingest(r);
    // not committed: rolled back here
  }
  CHECK(b.f.count("SELECT count(*) FROM readings") == 1);
  auto r = b.f.ingest(b.m, 7200, 102'000);
  CHECK(r.outcome == Outcome::billed);
  CHECK(r.quantity == 2'000); // from the stored 100 000, not the rolled-back 105 000
  CHECK(b.f.balance("A1") == 9'800);
  // A savepoint rolled back inside a transaction is forgotten the same way.
  {
    storage::Transaction tx(*b.f.db);
    {
      storage::Savepoint sp(*b.f.db, "reading");
      Reading s;
      s.meter_id = b.m;
      s.time = 10'800;
      s.value = 109'000;
      b.f.biller().ingest(s);
    }
    Reading s;
    s.meter_id = b.m;
    s.time = 14'400;
    s.value = 103'000;
    CHECK(b.f.biller().ingest(s).quantity == 1'000);
    tx.commit();
  }
  CHECK(b.f.balance("A1") == 9'700);
  CHECK(ledger::verify(*b.f.db).empty());
}
