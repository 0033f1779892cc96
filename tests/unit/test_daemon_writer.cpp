#include "temp_dir.hpp"

#include <kwh/daemon/commands.hpp>
#include <kwh/daemon/writer.hpp>
#include <kwh/storage/database.hpp>

#include <doctest/doctest.h>

using namespace kwh;
using namespace kwh::daemon;

namespace {

struct Site {
  test::TempDir dir;
  std::string path = dir.file("kwh.db");
  std::unique_ptr<storage::Database> db;
  Metrics metrics;

  Site() {
    db = storage::Database::open(path, storage::OpenMode::create);
    storage::migrate(*db);
    db->exec("INSERT INTO gateways(id, name, transport, address, created) VALUES (1, 'g1', 'tcp', '127.0.0.1:1502', 0)");
    db->exec("INSERT INTO meters(id, name, gateway_id, unit, profile, kind, status, created) "
             "VALUES (7, 'M7', 1, 7, 'acrel-ddsy1352', 'electricity', 'online', 0)");
  }
  std::unique_ptr<Writer> writer(config::Config cfg = {}) {
    return std::make_unique<Writer>(storage::Database::open(path), std::move(cfg), metrics);
  }
  std::int64_t count(const std::string& sql) {
    auto st = db->prepare(sql);
    REQUIRE(st.step());
    return st.get_int(0);
  }
  std::string text(const std::string& sql) {
    auto st = db->prepare(sql);
    REQUIRE(st.step());
    return st.is_null(0) ? "NULL" : st.get_text(0);
  }
};

PollRecord reading(UnixTime t, std::int64_t wh, std::int64_t watts) {
  PollRecord r;
  r.meter_id = 7;
  r.gateway_id = 1;
  r.time = t;
  PolledReading pr;
  pr.meter_id = 7;
  pr.time = t;
  pr.values.push_back({"energy_total", static_cast<double>(wh), wh});
  pr.values.push_back({"energy_peak", 100.0, 100});
  pr.values.push_back({"power_total", static_cast<double>(watts), watts});
  pr.values.push_back({"voltage_a", 229.5, 230});
  r.reading = pr;
  return r;
}

} // namespace

TEST_CASE("Writer: a polled reading goes to readings and its values to meter_values") {
  Site site;
  auto w = site.writer();
  w->start();
  w->add(reading(1'800'000'000, 123'456, 1500));
  w->flush();
  CHECK(site.count("SELECT value FROM readings WHERE meter_id = 7 AND t = 1800000000") == 123'456);
  CHECK(site.count("SELECT peak FROM readings WHERE meter_id = 7") == 100);
  CHECK(site.count("SELECT power FROM readings WHERE meter_id = 7") == 1500);
  CHECK(site.text("SELECT \"values\" FROM meter_values WHERE meter_id = 7") ==
        R"({"energy_total": 123456, "energy_peak": 100, "power_total": 1500, "voltage_a": 229.5})");
  CHECK(site.metrics.readings_written == 1);
  CHECK(site.metrics.db_write.count() == 1);
}

TEST_CASE("Writer: a reading billing refuses is skipped alone, the rest of the batch is stored") {
  Site site;
  auto w = site.writer();
  w->start();
  w->add(reading(200, 1000, 0));
  w->flush();
  w->add(reading(100, 900, 0)); // older than the latest: refused
  auto ok = reading(300, 1100, 0);
  w->add(ok);
  w->flush();
  CHECK(site.count("SELECT count(*) FROM readings WHERE meter_id = 7") == 2);
  CHECK(site.count("SELECT max(t) FROM readings") == 300);
  CHECK(site.count("SELECT t FROM meter_values WHERE meter_id = 7") == 300);
}

TEST_CASE("Writer: going offline and back writes the status and one event each way") {
  Site site;
  auto w = site.writer();
  w->start();
  PollRecord down;
  down.meter_id = 7;
  down.gateway_id = 1;
  down.time = 1000;
  down.failed_polls = 3;
  down.failed_polls_changed = true;
  down.status = Status::offline;
  down.detail = "gateway g1 unit 7: timeout";
  w->add(down);
  w->add(GatewayRecord{1, Status::offline, 1000, "all 1 meters offline"});
  w->flush();
  CHECK(site.text("SELECT status FROM meters WHERE id = 7") == "offline");
  CHECK(site.count("SELECT failed_polls FROM meters WHERE id = 7") == 3);
  CHECK(site.count("SELECT status_since FROM meters WHERE id = 7") == 1000);
  CHECK(site.text("SELECT status FROM gateways WHERE id = 1") == "offline");
  CHECK(site.count("SELECT count(*) FROM events WHERE kind = 'meter_offline' AND meter_id = 7 AND ended IS NULL") == 1);
  CHECK(site.text("SELECT detail FROM events WHERE kind = 'meter_offline'") == "gateway g1 unit 7: timeout");
  CHECK(site.count("SELECT count(*) FROM events WHERE kind = 'gateway_offline' AND gateway_id = 1") == 1);

  auto up = reading(2000, 5, 0);
  up.status = Status::online;
  up.failed_polls = 0;
  up.failed_polls_changed = true;
  w->add(up);
  w->add(GatewayRecord{1, Status::online, 2000, "1 of 1 meters answer"});
  w->flush();
  CHECK(site.text("SELECT status FROM meters WHERE id = 7") == "online");
  CHECK(site.count("SELECT failed_polls FROM meters WHERE id = 7") == 0);
  CHECK(site.count("SELECT count(*) FROM events WHERE kind = 'meter_online' AND meter_id = 7") == 1);
  CHECK(site.count("SELECT ended FROM events WHERE kind = 'meter_offline'") == 2000);
  CHECK(site.count("SELECT count(*) FROM events WHERE kind = 'gateway_online'") == 1);
  CHECK(site.count("SELECT ended FROM events WHERE kind = 'gateway_offline'") == 2000);
}

TEST_CASE("Writer: a multi-user device offline and back is one event each way; its circuits' are quiet") {
  Site site;
  site.db->exec("INSERT INTO meters(id, name, gateway_id, unit, profile, kind, status, created, device) "
                "VALUES (8, 'M8', 1, 8, 'acrel-adf400l-1p', 'electricity', 'online', 0, 'D1')");
  site.db->exec("UPDATE meters SET device = 'D1' WHERE id = 7");
  auto w = site.writer();
  w->start();
  for (std::int64_t id : {7, 8}) {
    PollRecord down;
    down.meter_id = id;
    down.gateway_id = 1;
    down.time = 1000;
    down.failed_polls = 2;
    down.failed_polls_changed = true;
    down.status = Status::offline;
    down.quiet = true;
    w->add(down);
  }
  w->add(DeviceRecord{1, "D1", Status::offline, 1000, "device D1: 2 circuits offline"});
  // Another device's event on the same gateway is not the one that ends.
  w->add(DeviceRecord{1, "D11", Status::offline, 1000, "device D11: 3 circuits offline"});
  // A circuit that went offline alone: its own event, written when the daemon lets it go.
  w->add(EventRecord{1000, "meter_offline", 1, 8, "gateway g1 unit 8: timeout"});
  w->flush();
  CHECK(site.count("SELECT count(*) FROM meters WHERE status = 'offline'") == 2);
  CHECK(site.count("SELECT count(*) FROM events WHERE kind = 'meter_offline'") == 1);
  CHECK(site.count("SELECT count(*) FROM events WHERE kind = 'device_offline' AND gateway_id = 1 AND meter_id IS NULL") == 2);

  for (std::int64_t id : {7, 8}) {
    auto up = reading(2000, 5, 0);
    up.meter_id = id;
    up.reading->meter_id = id;
    up.status = Status::online;
    up.quiet = true;
    w->add(up);
  }
  w->add(DeviceRecord{1, "D1", Status::online, 2000, "device D1: 1 of 2 circuits answer"});
  w->flush();
  CHECK(site.count("SELECT count(*) FROM meters WHERE status = 'online'") == 2);
  CHECK(site.text("SELECT ended FROM events WHERE kind = 'device_offline' AND detail LIKE 'device D1:%'") == "2000");
  CHECK(site.text("SELECT ended FROM events WHERE kind = 'device_offline' AND detail LIKE 'device D11:%'") == "NULL");
  CHECK(site.count("SELECT count(*) FROM events WHERE kind = 'device_online'") == 1);
  // Only the circuit with an event of its own says it is back.
  CHECK(site.count("SELECT count(*) FROM events WHERE kind = 'meter_online'") == 1);
  CHECK(site.count("SELECT meter_id FROM events WHERE kind = 'meter_online'") == 8);
  CHECK(site.count("SELECT ended FROM events WHERE kind = 'meter_offline'") == 2000);
}

TEST_CASE("Writer: stop writes everything still queued") {
  Site site;
  auto w = site.writer();
  w->start();
  for (int i = 1; i <= 1200; ++i) w->add(reading(i, i, 0));
  w->stop();
  CHECK(site.count("SELECT count(*) FROM readings") == 1200);
  CHECK(site.metrics.db_write.count() >= 1);
}

TEST_CASE("Writer: past [poll] max_backlog the older readings of a meter are dropped, its newest and the "
          "status changes kept") {
  Site site;
  site.db->exec("INSERT INTO meters(id, name, gateway_id, unit, profile, kind, status, created) "
                "VALUES (8, 'M8', 1, 8, 'acrel-ddsy1352', 'electricity', 'online', 0)");
  config::Config cfg;
  cfg.poll.max_backlog = 20;
  auto w = site.writer(cfg);
  // Not started: everything waits in the queue, as while another writer holds the database.
  auto m8 = reading(1000, 500, 0);
  m8.meter_id = 8;
  m8.reading->meter_id = 8;
  w->add(m8);
  for (int i = 0; i < 100; ++i) {
    w->add(reading(1000 + 60 * i, 10'000 + 10 * i, 600));
    if (i == 50) {
      PollRecord down;
      down.meter_id = 7;
      down.gateway_id = 1;
      down.time = 1000 + 60 * i + 30;
      down.failed_polls = 2;
      down.failed_polls_changed = true;
      down.status = Status::offline;
      down.detail = "gateway g1 unit 7: timeout";
      w->add(down);
    }
  }
  CHECK(w->backlog_readings() <= 20);
  CHECK(w->backlog_readings() >= 2);
  w->start();
  w->flush();
  const auto stored7 = site.count("SELECT count(*) FROM readings WHERE meter_id = 7");
  CHECK(stored7 <= 20);
  CHECK(site.metrics.readings_dropped == static_cast<std::uint64_t>(100 - stored7));
  CHECK(site.metrics.readings_written == static_cast<std::uint64_t>(stored7 + 1));
  // The newest reading of each meter is there, and M8's only one, though it came first.
  CHECK(site.count("SELECT max(t) FROM readings WHERE meter_id = 7") == 1000 + 60 * 99);
  CHECK(site.count("SELECT max(value) FROM readings WHERE meter_id = 7") == 10'000 + 10 * 99);
  CHECK(site.count("SELECT count(*) FROM readings WHERE meter_id = 8 AND value = 500") == 1);
  // The status change kept its place.
  CHECK(site.count("SELECT count(*) FROM events WHERE kind = 'meter_offline' AND meter_id = 7") == 1);
  CHECK(w->backlog_readings() == 0);
}

TEST_CASE("Commands: due commands are claimed once, and a success records the relay") {
  Site site;
  site.db->exec("INSERT INTO commands(id, meter_id, action, reason, created, not_before) VALUES "
                "(1, 7, 'relay_off', 'arrears', 0, 100), (2, 7, 'relay_on', 'topup', 0, 500)");
  auto due = claim_due_commands(*site.db, 200, 10);
  REQUIRE(due.size() == 1);
  CHECK(due[0].id == 1);
  CHECK(due[0].attempts == 1);
  CHECK(due[0].reason == "arrears");
  CHECK(site.text("SELECT state FROM commands WHERE id = 1") == "running");
  CHECK(claim_due_commands(*site.db, 200, 10).empty());

  CHECK(finish_command(*site.db, due[0], CommandOutcome{true, "", "off", false}, 210) == CommandResult::done);
  CHECK(site.text("SELECT state FROM commands WHERE id = 1") == "done");
  CHECK(site.text("SELECT readback FROM commands WHERE id = 1") == "off");
  CHECK(site.count("SELECT finished FROM commands WHERE id = 1") == 210);
  CHECK(site.text("SELECT relay_state FROM meters WHERE id = 7") == "off");
  CHECK(site.count("SELECT count(*) FROM events WHERE kind = 'relay_changed' AND meter_id = 7") == 1);
}

TEST_CASE("Commands: a failure is retried later with backoff, then given up with an event") {
  Site site;
  site.db->exec("INSERT INTO commands(id, meter_id, action, created, not_before) VALUES (1, 7, 'relay_off', 0, 0)");
  UnixTime now = 1000;
  for (int attempt = 1; attempt < k_command_attempts; ++attempt) {
    auto due = claim_due_commands(*site.db, now, 10);
    REQUIRE(due.size() == 1);
    CHECK(due[0].attempts == attempt);
    CHECK(finish_command(*site.db, due[0], CommandOutcome{false, "timeout", "", false}, now) == CommandResult::retried);
    CHECK(site.text("SELECT state FROM commands WHERE id = 1") == "pending");
    const auto not_before = site.count("SELECT not_before FROM commands WHERE id = 1");
    CHECK(not_before == retry_time(now, attempt));
    CHECK(claim_due_commands(*site.db, not_before - 1, 10).empty());
    now = not_before;
  }
  auto last = claim_due_commands(*site.db, now, 10);
  REQUIRE(last.size() == 1);
  CHECK(finish_command(*site.db, last[0], CommandOutcome{false, "timeout", "", false}, now) == CommandResult::failed);
  CHECK(site.text("SELECT state FROM commands WHERE id = 1") == "failed");
  CHECK(site.count("SELECT attempts FROM commands WHERE id = 1") == k_command_attempts);
  CHECK(site.text("SELECT last_error FROM commands WHERE id = 1") == "timeout");
  CHECK(site.count("SELECT count(*) FROM events WHERE kind = 'command_failed' AND meter_id = 7") == 1);
  CHECK(site.text("SELECT relay_state FROM meters WHERE id = 7") == "unknown");
  CHECK(retry_time(0, 1) == 2);
  CHECK(retry_time(0, 3) == 8);
  CHECK(retry_time(0, 30) == 300);
}

TEST_CASE("Commands: a permanent failure is given up at once; running ones are requeued at start") {
  Site site;
  site.db->exec("INSERT INTO commands(id, meter_id, action, created, not_before, state) VALUES "
                "(1, 7, 'sync_time', 0, 0, 'pending'), (2, 7, 'relay_on', 0, 0, 'running')");
  auto due = claim_due_commands(*site.db, 10, 10);
  REQUIRE(due.size() == 1);
  CHECK(finish_command(*site.db, due[0], CommandOutcome{false, "cannot", "", true}, 10) == CommandResult::failed);
  CHECK(requeue_running(*site.db) == 1);
  CHECK(site.text("SELECT state FROM commands WHERE id = 2") == "pending");
}
