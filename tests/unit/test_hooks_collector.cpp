#include <doctest/doctest.h>

#include "test_billing_fixture.hpp"

#include <kwh/hooks/collector.hpp>
#include <kwh/hooks/delivery.hpp>

using namespace kwh;

namespace {

// An account A1 (alarm1 50.00, alarm2 20.00, no credit) on meter M1 at 1.0000 a kWh, and hooks
// for every kind.
struct Hooked {
  test::BillingFixture f;
  std::int64_t m = 0;
  UnixTime t = 0;
  std::int64_t v = 0;
  Hooked() {
    m = f.add_meter("M1");
    f.add_flat("std", "1.0000");
    f.open("A1", "std", {"M1"}, 0, 5'000, 2'000, 0);
    f.db->exec("UPDATE accounts SET phone = '+8613800000000' WHERE name = 'A1'");
    for (const auto& k : config::hook_kinds()) f.config.hooks.programs[k] = {"/bin/true"};
    f.config.hooks.retry = {std::chrono::seconds(60), std::chrono::seconds(300)};
  }
  int collect(UnixTime now = 1'800'000'000) {
    storage::Transaction tx(*f.db);
    int n = hooks::collect(*f.db, f.config, now);
    tx.commit();
    return n;
  }
  void use(std::int64_t wh) {
    t += 3600;
    v += wh;
    f.ingest(m, t, v);
  }
  std::int64_t deliveries(const std::string& kind) {
    return f.count("SELECT count(*) FROM hook_deliveries WHERE kind = '" + kind + "'");
  }
  std::string payload(const std::string& kind, int nth = 0) {
    auto st = f.db->prepare("SELECT payload FROM hook_deliveries WHERE kind = ?1 ORDER BY id LIMIT 1 OFFSET ?2");
    st.bind_all(kind, nth);
    REQUIRE(st.step());
    return st.get_text(0);
  }
};

} // namespace

TEST_CASE("Hooks: the cursor starts where the database is when hooks are first configured") {
  Hooked h;
  h.f.pay("A1", 10'000);
  h.f.ingest(h.m, 0, 0);
  for (int i = 0; i < 6; ++i) h.use(10'000); // 100.00 -> 40.00: alarm1 before hooks
  REQUIRE(h.f.count("SELECT count(*) FROM events WHERE kind = 'alarm1'") == 1);
  CHECK(h.collect() == 0);
  CHECK(h.f.count("SELECT count(*) FROM hook_deliveries") == 0);
  CHECK(h.f.count("SELECT count(*) FROM settings WHERE key LIKE 'hooks_%'") == 4);
  // What comes after is delivered: the sale, then alarm2.
  h.f.pay("A1", 500);
  for (int i = 0; i < 3; ++i) h.use(10'000); // 45.00 -> 15.00
  CHECK(h.collect() == 2);
  CHECK(h.deliveries("payment") == 1);
  CHECK(h.deliveries("low_balance") == 1);
  // The balance right after the sale; the status as it is when collected (kwhd: within a second).
  CHECK(h.payload("payment") ==
        R"({"kind": "payment", "account": "A1", "name": "Holder of A1", "phone": "+8613800000000", "language": null, "balance": "45.00", )"
        R"("status": "alarm2", "meter": "M1", "time": "1970-01-01T00:00:00+00:00", "amount": "5.00", "receipt": 2, )"
        R"("method": "cash", "ref": null, "entry": 2})");
  // The forgotten cursors start again from now.
  {
    storage::Transaction tx(*h.f.db);
    hooks::forget_cursors(*h.f.db);
    tx.commit();
  }
  h.f.pay("A1", 100);
  CHECK(h.collect() == 0);
  CHECK(h.deliveries("payment") == 1);
}

TEST_CASE("Hooks: one delivery per crossing, not per reading, and none twice when collected again") {
  Hooked h;
  h.collect(); // configured: the cursors start
  h.f.pay("A1", 10'000);
  h.f.ingest(h.m, 0, 0);
  for (int i = 0; i < 12; ++i) {
    h.use(10'000); // 100.00 down to -20.00, one reading at a time
    h.collect();
  }
  CHECK(h.deliveries("payment") == 1);
  CHECK(h.deliveries("low_balance") == 2);
  CHECK(h.deliveries("arrears") == 1);
  // The balance right after the reading that crossed, to the cent.
  CHECK(h.payload("low_balance", 0).find(R"("balance": "50.00", "status": "alarm1")") != std::string::npos);
  CHECK(h.payload("low_balance", 0).find(R"("level": "alarm1", "threshold": "50.00")") != std::string::npos);
  CHECK(h.payload("low_balance", 1).find(R"("balance": "20.00", "status": "alarm2")") != std::string::npos);
  CHECK(h.payload("arrears").find(R"("balance": "0.00", "status": "arrears")") != std::string::npos);
  CHECK(h.payload("arrears").find(R"("credit_limit": "0.00")") != std::string::npos);
  // Looking at every row again (a crash before the cursor moved) makes nothing twice.
  const auto before = h.f.count("SELECT count(*) FROM hook_deliveries");
  h.f.db->exec("UPDATE settings SET value = '0' WHERE key IN ('hooks_events', 'hooks_ledger', 'hooks_commands')");
  CHECK(h.collect() == 0);
  CHECK(h.f.count("SELECT count(*) FROM hook_deliveries") == before);
  // The relay_off that arrears queued, once done; the relay_on after a top-up, once done.
  CHECK(h.deliveries("relay_off") == 0);
  h.f.db->exec("UPDATE commands SET state = 'done', finished = 1800000000 WHERE action = 'relay_off'");
  h.f.db->exec("UPDATE meters SET relay_state = 'off'");
  CHECK(h.collect() == 1);
  CHECK(h.payload("relay_off").find(R"("reason": "arrears")") != std::string::npos);
  h.f.pay("A1", 10'000);
  REQUIRE(h.f.count("SELECT count(*) FROM commands WHERE action = 'relay_on' AND state = 'pending'") == 1);
  CHECK(h.collect() == 1); // the payment; relay_on is still pending
  CHECK(h.deliveries("relay_on") == 0);
  h.f.db->exec("UPDATE commands SET state = 'done', finished = 1800000100 WHERE action = 'relay_on'");
  CHECK(h.collect() == 1);
  CHECK(h.deliveries("relay_on") == 1);
  CHECK(h.collect() == 0);
}

TEST_CASE("Hooks: only configured kinds get deliveries") {
  Hooked h;
  h.f.config.hooks.programs.clear();
  h.f.config.hooks.programs["arrears"] = {"/bin/true"};
  h.collect();
  h.f.pay("A1", 1'000);
  h.f.ingest(h.m, 0, 0);
  for (int i = 0; i < 3; ++i) h.use(10'000);
  h.collect();
  CHECK(h.f.count("SELECT count(*) FROM hook_deliveries") == 1);
  CHECK(h.deliveries("arrears") == 1);
}

TEST_CASE("Hooks: a disconnection held back by friendly hours is warned of once, warn_before ahead") {
  Hooked h;
  const UnixTime now = 1'800'000'000;
  h.f.config.hooks.warn_before = std::chrono::hours(2);
  h.collect(now);
  h.f.db->prepare("INSERT INTO commands(meter_id, action, reason, created, not_before) VALUES "
                  "(?1, 'relay_off', 'arrears', ?2, ?3), (?1, 'relay_off', 'arrears', ?2, ?4), "
                  "(?1, 'relay_off', 'operator', ?2, ?3)")
      .bind_all(h.m, now - 600, now + 3600, now + 3 * 3600)
      .run();
  CHECK(h.collect(now) == 1);
  CHECK(h.payload("cutoff_warning").find(R"("cutoff": "2027-01-15T09:00:00+00:00", "command": 1)") != std::string::npos);
  CHECK(h.collect(now + 60) == 0);
  CHECK(h.collect(now + 3600 + 60) == 1); // the second is within 2 h now
  CHECK(h.deliveries("cutoff_warning") == 2);
}

TEST_CASE("Hooks: a failed attempt waits each retry delay in turn, then the delivery is failed") {
  Hooked h;
  h.collect();
  h.f.pay("A1", 1'000);
  REQUIRE(h.collect() == 1);
  const UnixTime now = 1'800'000'000;
  auto due = [&](UnixTime t) {
    storage::Transaction tx(*h.f.db);
    auto d = hooks::due(*h.f.db, h.f.config, t, 10, {});
    tx.commit();
    return d;
  };
  REQUIRE(due(now).size() == 1);
  const auto id = due(now)[0].id;
  CHECK(due(now).size() == 1);
  CHECK(hooks::due(*h.f.db, h.f.config, now, 10, {id}).empty()); // running already
  CHECK(hooks::record(*h.f.db, h.f.config, id, "/bin/false", false, "exit 1: no", now) == "pending");
  CHECK(due(now + 59).empty());
  CHECK(due(now + 60).size() == 1);
  CHECK(hooks::record(*h.f.db, h.f.config, id, "/bin/false", false, "exit 1: again", now + 60) == "pending");
  CHECK(due(now + 60 + 299).empty());
  CHECK(hooks::record(*h.f.db, h.f.config, id, "/bin/false", false, "exit 1: last", now + 360) == "failed");
  CHECK(due(now + 100'000).empty());
  auto rows = hooks::list(*h.f.db, {});
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].state == "failed");
  CHECK(rows[0].attempts == 3);
  CHECK(rows[0].last_error == std::optional<std::string>("exit 1: last"));
  CHECK(rows[0].account == std::optional<std::string>("A1"));
  CHECK(hooks::pending_count(*h.f.db) == 0);
  CHECK(hooks::program_text({"/usr/bin/x", "a b", "c"}) == R"(/usr/bin/x "a b" c)");
}
