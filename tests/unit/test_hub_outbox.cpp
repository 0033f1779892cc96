#include <doctest/doctest.h>

#include "test_billing_fixture.hpp"

#include <kwh/crypto/sha256.hpp>
#include <kwh/hub/outbox.hpp>
#include <kwh/hub/pusher.hpp>

using namespace kwh;

namespace {

std::int64_t outbox_count(test::BillingFixture& f, const std::string& kind) {
  return f.count("SELECT count(*) FROM outbox WHERE kind = '" + kind + "'");
}

std::string text_of(test::BillingFixture& f, const std::string& sql) {
  auto st = f.db->prepare(sql);
  REQUIRE(st.step());
  return st.get_text(0);
}

std::int64_t claim_all(storage::Database& db) {
  storage::Transaction tx(db);
  auto upto = hub::claim(db, 0, 1'000'000);
  tx.commit();
  return upto;
}

// The pusher's sweep at `now` with usage_every at its default (15 minutes); marks added.
std::int64_t sweep_at(storage::Database& db, UnixTime now) {
  const auto every = std::chrono::seconds(900);
  storage::Transaction tx(db);
  hub::set_usage_every(db, every);
  auto n = hub::sweep_marks(db, now, every);
  tx.commit();
  return n;
}

// What the outbox rows of `kind` carry in `field`, in seq order ("waiting" for a mark not taken).
std::string carried(test::BillingFixture& f, const std::string& kind, const std::string& field) {
  return text_of(f, "SELECT group_concat(coalesce(json_extract(payload, '$." + field + "'), 'waiting'), ' ') FROM "
                    "(SELECT payload FROM outbox WHERE kind = '" + kind + "' ORDER BY seq)");
}

} // namespace

TEST_CASE("Hub outbox: a sale's ledger entry gets its outbox row in the same transaction, with every column once "
          "taken") {
  test::BillingFixture f;
  f.add_meter("M1");
  f.add_flat("flat", "1.00");
  f.open("A1", "flat", {"M1"});
  CHECK(outbox_count(f, "account") == 1);
  auto r = f.pay("A1", 12345, billing::PaymentKind::sale, std::string("till-1"));
  REQUIRE(outbox_count(f, "ledger") == 1);
  // A mark in the sale's transaction (schema 15), filled with the entry when the pusher takes it.
  CHECK(f.count("SELECT count(*) FROM outbox WHERE kind = 'ledger' AND payload IS NULL") == 1);
  claim_all(*f.db);
  const std::string payload = text_of(f, "SELECT payload FROM outbox WHERE kind = 'ledger'");
  CHECK(text_of(f, "SELECT json_extract(payload, '$.amount') FROM outbox WHERE kind = 'ledger'") == "12345");
  CHECK(text_of(f, "SELECT json_extract(payload, '$.account') FROM outbox WHERE kind = 'ledger'") == "A1");
  CHECK(text_of(f, "SELECT json_extract(payload, '$.ref') FROM outbox WHERE kind = 'ledger'") == "till-1");
  // The entry's chain hash, as hex.
  CHECK(text_of(f, "SELECT json_extract(o.payload, '$.hash') = lower(hex(l.hash)) FROM outbox o JOIN ledger l ON "
                   "o.key = CAST(l.id AS TEXT) WHERE o.kind = 'ledger'") == "1");
  CHECK(text_of(f, "SELECT key FROM outbox WHERE kind = 'ledger'") == text_of(f, "SELECT id FROM ledger"));
  CHECK(r.receipt > 0);
  // The epoch was made with the outbox: 32 hex digits.
  CHECK(text_of(f, "SELECT length(value) FROM settings WHERE key = 'hub.site_epoch'") == "32");
}

TEST_CASE("Hub outbox: a transaction rolled back leaves no outbox row and no sequence number used") {
  test::BillingFixture f;
  f.add_meter("M1");
  f.add_flat("flat", "1.00");
  f.open("A1", "flat", {"M1"});
  const auto before = f.count("SELECT count(*) FROM outbox");
  claim_all(*f.db);
  const auto seq_before = f.count("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'");
  {
    storage::Transaction tx(*f.db);
    f.db->exec("INSERT INTO events(time, kind, detail) VALUES (1, 'meter_offline', 'x')");
    f.db->exec("UPDATE accounts SET status = 'alarm1' WHERE name = 'A1'");
    f.db->exec("INSERT INTO daily_usage(day, meter_id, account_id, quantity, cost) VALUES (0, 1, 1, 5, 5)");
    CHECK(f.count("SELECT count(*) FROM outbox") == before + 3);
    // No commit: rolled back.
  }
  CHECK(f.count("SELECT count(*) FROM outbox") == before);
  CHECK(f.count("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'") == seq_before);
  CHECK(f.count("SELECT count(*) FROM events WHERE kind = 'meter_offline'") == 0);
}

TEST_CASE("Hub outbox: a day's usage is one row until the pusher takes it; a later change is a new row") {
  test::BillingFixture f;
  auto m = f.add_meter("M1");
  // Every change may make a mark here ([hub] usage_every = 0s); the default is below.
  f.db->exec("INSERT INTO settings(key, value) VALUES ('hub.usage_every', '0')");
  f.add_flat("flat", "1.00");
  f.open("A1", "flat", {"M1"});
  f.pay("A1", 100000);
  const UnixTime t = 1'800'000'000;
  f.ingest(m, t, 1000);
  f.ingest(m, t + 60, 2000);
  f.ingest(m, t + 120, 3000);
  CHECK(outbox_count(f, "daily_usage") == 1);
  // A mark, filled when the pusher takes it.
  CHECK(f.count("SELECT count(*) FROM outbox WHERE kind = 'daily_usage' AND payload IS NULL") == 1);
  // The account's balance moved with each reading: folded into its mark not yet taken.
  CHECK(outbox_count(f, "account") == 1);

  claim_all(*f.db);
  CHECK(text_of(f, "SELECT json_extract(payload, '$.quantity') FROM outbox WHERE kind = 'daily_usage'") == "2000");
  CHECK(text_of(f, "SELECT json_extract(payload, '$.meter') FROM outbox WHERE kind = 'daily_usage'") == "M1");
  f.ingest(m, t + 180, 4000);
  f.ingest(m, t + 240, 5000);
  CHECK(outbox_count(f, "daily_usage") == 2);
  claim_all(*f.db);
  // The row taken keeps what it had; the new one has the day's total so far.
  CHECK(text_of(f, "SELECT group_concat(json_extract(payload, '$.quantity'), ' ') FROM (SELECT payload FROM outbox "
                   "WHERE kind = 'daily_usage' ORDER BY seq)") == "2000 4000");
}

TEST_CASE("Hub outbox: an account's status or settings change is a row, folded while not taken") {
  test::BillingFixture f;
  f.add_meter("M1");
  f.add_flat("flat", "1.00");
  f.open("A1", "flat", {"M1"});
  CHECK(outbox_count(f, "account") == 1);
  f.db->exec("UPDATE accounts SET phone = '555' WHERE name = 'A1'");
  f.db->exec("UPDATE accounts SET building = 'B' WHERE name = 'A1'");
  CHECK(outbox_count(f, "account") == 1);
  claim_all(*f.db);
  CHECK(text_of(f, "SELECT json_extract(payload, '$.building') FROM outbox WHERE kind = 'account'") == "B");
  CHECK(text_of(f, "SELECT json_extract(payload, '$.tariff') FROM outbox WHERE kind = 'account'") == "flat");
  // A balance moving within usage_every (15 minutes here) of the last mark makes none; the
  // other columns do at once.
  f.db->exec("UPDATE accounts SET balance = balance + 1 WHERE name = 'A1'");
  CHECK(outbox_count(f, "account") == 1);
  f.db->exec("UPDATE accounts SET status = 'alarm1' WHERE name = 'A1'");
  CHECK(outbox_count(f, "account") == 2);
}

TEST_CASE("Hub outbox: a balance moved by readings reaches the outbox at most every usage_every, and its last value "
          "follows") {
  test::BillingFixture f;
  auto m = f.add_meter("M1");
  f.add_flat("flat", "1.00");
  f.open("A1", "flat", {"M1"});
  f.pay("A1", 100000);
  const UnixTime t = 1'800'000'000;
  const auto every = std::chrono::seconds(900);
  auto sweep = [&](UnixTime now) { return sweep_at(*f.db, now); };
  auto balances = [&] { return carried(f, "account", "balance"); };
  f.ingest(m, t, 1000);
  claim_all(*f.db);
  // Taken with the balance and the newest ledger entry of the account when it was read.
  const std::string first = text_of(f, "SELECT balance FROM accounts WHERE name = 'A1'");
  CHECK(balances() == first);
  CHECK(text_of(f, "SELECT json_extract(payload, '$.ledger_id') FROM outbox WHERE kind = 'account'") ==
        text_of(f, "SELECT max(id) FROM ledger"));
  // Readings billed move the balance; the mark is younger than usage_every: no new one.
  for (int i = 1; i < 10; ++i) f.ingest(m, t + 60 * i, 1000 * (i + 1));
  const std::string last = text_of(f, "SELECT balance FROM accounts WHERE name = 'A1'");
  REQUIRE(last != first);
  CHECK(outbox_count(f, "account") == 1);
  const UnixTime wall = kwh::now();
  CHECK(sweep(wall) == 0);
  // Once it is older, the sweep sees the balance moved and marks the account again (the day of
  // usage's first mark is still waiting: nothing to sweep there).
  CHECK(hub::sweep_due(*f.db, wall + 901, every));
  CHECK(sweep(wall + 901) == 1);
  claim_all(*f.db);
  CHECK(balances() == first + " " + last);
  CHECK(sweep(wall + 5000) == 0);
  // With the last mark older than usage_every, a move marks the account at once.
  f.db->exec("UPDATE outbox SET time = time - 2000 WHERE kind = 'account'");
  f.ingest(m, t + 600, 11000);
  CHECK(outbox_count(f, "account") == 3);
}

TEST_CASE("Hub outbox: events are rows when written and when they end") {
  test::BillingFixture f;
  f.db->exec("INSERT INTO events(time, kind, detail) VALUES (1, 'meter_offline', 'x')");
  f.db->exec("UPDATE events SET ended = 2");
  CHECK(outbox_count(f, "event") == 2);
  CHECK(text_of(f, "SELECT json_extract(payload, '$.ended') FROM outbox WHERE kind = 'event' ORDER BY seq DESC") ==
        "2");
}

TEST_CASE("Hub outbox: a row's hash is SHA-256 of site_id|epoch|seq|kind|payload") {
  const std::string payload = R"({"id":1,"amount":100})";
  const auto h = hub::row_hash("s1", "e0", 7, "ledger", payload);
  CHECK(h == sha256_hex("s1|e0|7|ledger|" + payload));
  CHECK(h.size() == 64);
  CHECK(hub::row_hash("s2", "e0", 7, "ledger", payload) != h);
  CHECK(hub::row_hash("s1", "e1", 7, "ledger", payload) != h);
  CHECK(hub::row_hash("s1", "e0", 8, "ledger", payload) != h);
  CHECK(hub::row_hash("s1", "e0", 7, "event", payload) != h);
  CHECK(hub::row_hash("s1", "e0", 7, "ledger", R"({"id":1,"amount":101})") != h);
}

TEST_CASE("Hub outbox: claim, rows, pushed and the state kwh hub status shows") {
  test::BillingFixture f;
  f.add_meter("M1");
  f.add_flat("flat", "1.00");
  f.open("A1", "flat", {"M1"});
  for (int i = 0; i < 5; ++i) f.pay("A1", 100 + i);
  auto s = hub::read_state(*f.db);
  // The account, its account_opened event and five sales.
  CHECK(s.waiting == 7);
  CHECK(s.max_seq == 7);
  REQUIRE(s.oldest_waiting);
  std::int64_t upto = 0;
  {
    storage::Transaction tx(*f.db);
    upto = hub::claim(*f.db, 0, 4);
    tx.commit();
  }
  CHECK(upto == 4);
  auto batch = hub::rows(*f.db, 0, upto, "s1", s.epoch);
  REQUIRE(batch.size() == 4);
  CHECK(batch[0].kind == "account");
  CHECK(batch[1].kind == "event");
  CHECK(batch[2].kind == "ledger");
  CHECK(batch[3].hash == hub::row_hash("s1", s.epoch, 4, "ledger", batch[3].payload));
  {
    storage::Transaction tx(*f.db);
    hub::record_pushed(*f.db, upto, 2'000'000'000, std::chrono::hours(24 * 7));
    tx.commit();
  }
  s = hub::read_state(*f.db);
  CHECK(s.pushed == 4);
  CHECK(s.waiting == 3);
  CHECK(s.last_push == 2'000'000'000);
  // Rows pushed long ago go, but the last one pushed stays for the next start's comparison.
  CHECK(f.count("SELECT count(*) FROM outbox") == 4);
  CHECK(hub::row_at(*f.db, 4, "s1", s.epoch).has_value());
}

TEST_CASE("Hub pusher: a hub that cannot be reached is an error the pusher records, and nothing moves") {
  test::BillingFixture f;
  f.add_meter("M1");
  f.add_flat("flat", "1.00");
  f.open("A1", "flat", {"M1"});
  config::Hub cfg;
  cfg.url = "postgresql://127.0.0.1:1/hub?connect_timeout=2";
  cfg.site_id = "s1";
  hub::PushCounters counters;
  hub::Pusher pusher(
      f.db->path(), cfg, [&](const std::function<void(storage::Database&)>& job) { job(*f.db); }, counters, {});
  try {
    pusher.push_all();
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::unavailable);
  }
  CHECK(counters.rows_waiting == 2);
  CHECK(hub::read_state(*f.db).pushed == 0);
}

TEST_CASE("Hub outbox: a day's usage gets a mark at most every usage_every, and its last value still follows") {
  test::BillingFixture f;
  auto m = f.add_meter("M1");
  f.add_flat("flat", "1.00");
  f.open("A1", "flat", {"M1"});
  f.pay("A1", 100000);
  const UnixTime t = 1'800'000'000;
  auto sweep = [&](UnixTime now) { return sweep_at(*f.db, now); };
  auto quantities = [&] { return carried(f, "daily_usage", "quantity"); };
  f.ingest(m, t, 1000);
  f.ingest(m, t + 60, 2000);
  claim_all(*f.db);
  // Taken a moment ago: the next readings make no mark (the default, 15 minutes).
  for (int i = 2; i < 10; ++i) f.ingest(m, t + 60 * i, 1000 * (i + 1));
  CHECK(outbox_count(f, "daily_usage") == 1);
  const UnixTime wall = kwh::now();
  CHECK(!hub::sweep_due(*f.db, wall, std::chrono::seconds(900)));
  CHECK(sweep(wall) == 0);
  // Once the mark is older than usage_every, the pusher's sweep sees the row moved on since and
  // adds a mark, which carries the day's value as it is when taken.
  CHECK(hub::sweep_due(*f.db, wall + 901, std::chrono::seconds(900)));
  // (The account's balance, which the readings moved too, gets its mark again with it.)
  CHECK(sweep(wall + 901) == 2);
  CHECK(outbox_count(f, "daily_usage") == 2);
  claim_all(*f.db);
  CHECK(quantities() == "1000 9000");
  // Each mark is looked at once; a day that did not change since its mark gets none.
  CHECK(sweep(wall + 1802) == 0);
  CHECK(sweep(wall + 5000) == 0);
  CHECK(outbox_count(f, "daily_usage") == 2);
  // A change after the last mark is older than usage_every is a mark at once, from the trigger.
  f.db->exec("UPDATE outbox SET time = time - 2000 WHERE kind = 'daily_usage'");
  f.ingest(m, t + 600, 11000);
  CHECK(outbox_count(f, "daily_usage") == 3);
}

TEST_CASE("Hub outbox: a new epoch empties the outbox and fills it again with every account, entry and day, from seq 1") {
  test::BillingFixture f;
  auto m = f.add_meter("M1");
  f.add_flat("flat", "1.00");
  f.open("A1", "flat", {"M1"});
  f.open("A2", "flat", {});
  f.pay("A1", 100000);
  f.pay("A2", 5000);
  f.ingest(m, 1'800'000'000, 1000);
  f.ingest(m, 1'800'000'060, 2000);
  const std::int64_t upto = claim_all(*f.db);
  {
    storage::Transaction tx(*f.db);
    hub::record_pushed(*f.db, upto, kwh::now(), std::chrono::hours(1));
    hub::record_alarm(*f.db, "restored", kwh::now());
    tx.commit();
  }
  const auto before = hub::read_state(*f.db);
  REQUIRE(before.alarm);
  hub::EpochReset r;
  {
    storage::Transaction tx(*f.db);
    r = hub::reset_epoch(*f.db, 1'900'000'000);
    tx.commit();
  }
  CHECK(r.previous == before.epoch);
  CHECK(r.epoch.size() == 32);
  CHECK(r.epoch != before.epoch);
  const auto after = hub::read_state(*f.db);
  CHECK(after.epoch == r.epoch);
  CHECK(after.previous_epoch == before.epoch);
  CHECK(!after.alarm);
  CHECK(after.pushed == 0);
  CHECK(after.claimed == 0);
  // The two accounts, every ledger entry and the day of usage, numbered from 1 in that order.
  const auto entries = f.count("SELECT count(*) FROM ledger");
  CHECK(r.rows == 2 + entries + f.count("SELECT count(*) FROM daily_usage"));
  CHECK(after.waiting == r.rows);
  CHECK(f.count("SELECT min(seq) FROM outbox") == 1);
  CHECK(f.count("SELECT max(seq) FROM outbox") == r.rows);
  CHECK(text_of(f, "SELECT group_concat(kind, ' ') FROM (SELECT DISTINCT kind FROM outbox ORDER BY seq)") ==
        "account ledger daily_usage");
  // Taken, the marks carry the rows: every entry with its hash, as the site has it.
  claim_all(*f.db);
  CHECK(f.count("SELECT count(*) FROM outbox o JOIN ledger l ON o.key = CAST(l.id AS TEXT) WHERE o.kind = 'ledger' "
                "AND json_extract(o.payload, '$.hash') = lower(hex(l.hash)) AND json_extract(o.payload, '$.amount') = "
                "l.amount") == entries);
  CHECK(text_of(f, "SELECT json_extract(payload, '$.balance') FROM outbox WHERE kind = 'account' AND key = "
                   "(SELECT CAST(id AS TEXT) FROM accounts WHERE name = 'A2')") == "5000");
  // A pusher still on the old epoch reads nothing of the new one.
  CHECK(hub::rows(*f.db, 0, r.rows, "s1", before.epoch).empty());
  CHECK(hub::site_epoch(*f.db) == r.epoch);
  auto batch = hub::rows(*f.db, 0, r.rows, "s1", r.epoch);
  REQUIRE(batch.size() == static_cast<std::size_t>(r.rows));
  CHECK(batch.front().hash == hub::row_hash("s1", r.epoch, 1, batch.front().kind, batch.front().payload));
}
