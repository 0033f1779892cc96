#include <kwh/daemon/commands.hpp>

#include <kwh/billing/status.hpp>
#include <kwh/daemon/writer.hpp>
#include <kwh/site/live.hpp>
#include <kwh/site/meter.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace kwh::daemon {

std::vector<QueuedCommand> claim_due_commands(storage::Database& db, UnixTime now, std::size_t limit) {
  std::vector<QueuedCommand> out;
  // The cheap check first, outside a write transaction: most of the time there is nothing due.
  {
    auto& probe = db.cached("SELECT 1 FROM commands WHERE state = 'pending' AND not_before <= ?1 LIMIT 1");
    probe.bind(1, now);
    bool any = probe.step();
    probe.reset();
    if (!any) return out;
  }
  storage::Transaction tx(db);
  auto& st = db.cached("SELECT id, meter_id, action, argument, coalesce(reason, 'operator'), attempts FROM commands "
                       "WHERE state = 'pending' AND not_before <= ?1 ORDER BY not_before, id LIMIT ?2");
  st.bind(1, now);
  st.bind(2, static_cast<std::int64_t>(limit));
  while (st.step()) {
    QueuedCommand c;
    c.id = st.get_int(0);
    c.meter_id = st.get_int(1);
    c.action = st.get_text(2);
    c.argument = st.get_opt_text(3);
    c.reason = st.get_text(4);
    c.attempts = static_cast<int>(st.get_int(5)) + 1;
    out.push_back(std::move(c));
  }
  st.reset();
  for (const auto& c : out)
    db.cached("UPDATE commands SET state = 'running', attempts = ?2 WHERE id = ?1").bind_all(c.id, c.attempts).run();
  tx.commit();
  return out;
}

int requeue_running(storage::Database& db) {
  storage::Transaction tx(db);
  db.prepare("UPDATE commands SET state = 'pending' WHERE state = 'running'").run();
  int n = db.changes();
  tx.commit();
  return n;
}

UnixTime retry_time(UnixTime now, int attempts) {
  std::int64_t delay = 2;
  for (int i = 1; i < attempts && delay < 300; ++i) delay *= 2;
  return now + std::min<std::int64_t>(delay, 300);
}

std::string relay_reported(storage::Database& db, std::int64_t meter_id, bool closed, UnixTime time) {
  auto& st = db.cached("SELECT name, gateway_id, relay_mode, relay_state, relay_reason, EXISTS (SELECT 1 FROM commands "
                       "WHERE meter_id = ?1 AND action IN ('relay_on', 'relay_off') AND state IN ('pending', 'running')) "
                       "FROM meters WHERE id = ?1");
  st.bind(1, meter_id);
  if (!st.step()) {
    st.reset();
    return {};
  }
  const std::string name = st.get_text(0);
  const std::int64_t gateway = st.get_int(1);
  const std::string mode = st.get_text(2), state = st.get_text(3);
  const std::optional<std::string> reason = st.get_opt_text(4);
  const bool commanded = st.get_int(5) != 0;
  st.reset();
  const std::string now_state = closed ? "on" : "off";
  if (state == now_state || commanded) return {};
  if (state == "unknown") {
    db.cached("UPDATE meters SET relay_state = ?2 WHERE id = ?1").bind_all(meter_id, now_state).run();
    return {};
  }
  std::string detail;
  if (!closed) {
    db.cached("UPDATE meters SET relay_state = 'off', relay_reason = 'meter' WHERE id = ?1").bind(1, meter_id).run();
    detail = fmt::format("meter {}: the relay opened at the meter without a command (kwh had it on)", name);
  } else {
    // kwh holds it open for a reason of its own: open it again.
    const bool held = mode == "off" || (reason && *reason != "meter");
    db.cached("UPDATE meters SET relay_state = 'on', relay_reason = ?2 WHERE id = ?1")
        .bind_all(meter_id, held ? reason : std::optional<std::string>())
        .run();
    detail = fmt::format("meter {}: the relay closed at the meter without a command (kwh had it off", name);
    if (held && mode != "protect") {
      const std::string why = mode == "off" && !reason ? std::string("operator") : reason.value_or("operator");
      billing::queue_command(db, meter_id, "relay_off", why, time, time);
      detail += fmt::format(" for {}); opening it again", why);
    } else {
      detail += ")";
    }
  }
  std::optional<std::int64_t> account;
  {
    auto& a = db.cached("SELECT account_id FROM assignments WHERE meter_id = ?1 AND valid_to IS NULL");
    a.bind(1, meter_id);
    if (a.step()) account = a.get_int(0);
    a.reset();
  }
  db.cached("INSERT INTO events(time, kind, gateway_id, meter_id, account_id, detail) "
            "VALUES (?1, 'relay_unexpected', ?2, ?3, ?4, ?5)")
      .bind_all(time, gateway, meter_id, account, detail)
      .run();
  return detail;
}

CommandResult finish_command(storage::Database& db, const QueuedCommand& c, const CommandOutcome& o, UnixTime now) {
  storage::Transaction tx(db);
  CommandResult result;
  if (o.ok) {
    db.cached("UPDATE commands SET state = 'done', attempts = ?2, last_error = NULL, readback = ?3, finished = ?4 "
              "WHERE id = ?1")
        .bind_all(c.id, c.attempts, o.readback, now)
        .run();
    if (c.action == "relay_on" || c.action == "relay_off") {
      if (auto m = site::find_meter(db, c.meter_id)) site::record_relay(db, *m, c.action == "relay_on", c.reason);
    }
    result = CommandResult::done;
  } else if (!o.permanent && c.attempts < k_command_attempts) {
    db.cached("UPDATE commands SET state = 'pending', attempts = ?2, last_error = ?3, not_before = ?4 WHERE id = ?1")
        .bind_all(c.id, c.attempts, o.error, retry_time(now, c.attempts))
        .run();
    result = CommandResult::retried;
  } else {
    db.cached("UPDATE commands SET state = 'failed', attempts = ?2, last_error = ?3, finished = ?4 WHERE id = ?1")
        .bind_all(c.id, c.attempts, o.error, now)
        .run();
    std::optional<std::int64_t> gateway;
    {
      auto& g = db.cached("SELECT gateway_id FROM meters WHERE id = ?1");
      g.bind(1, c.meter_id);
      if (g.step()) gateway = g.get_int(0);
      g.reset();
    }
    write_event(db, now, "command_failed", gateway, c.meter_id,
                fmt::format("command {} {} failed after {} attempts: {}", c.id, c.action, c.attempts, o.error));
    result = CommandResult::failed;
  }
  if (c.action == "sync_time" && (o.drift_after || o.drift_before)) {
    db.cached("UPDATE meters SET clock_drift = ?2, clock_checked_at = ?3 WHERE id = ?1")
        .bind_all(c.meter_id, o.drift_after ? *o.drift_after : *o.drift_before, now)
        .run();
    if (o.drift_alarm && o.drift_before && result != CommandResult::retried) {
      std::optional<std::int64_t> gateway;
      auto& g = db.cached("SELECT gateway_id FROM meters WHERE id = ?1");
      g.bind(1, c.meter_id);
      if (g.step()) gateway = g.get_int(0);
      g.reset();
      const auto d = *o.drift_before;
      write_event(db, now, "clock_drift", gateway, c.meter_id,
                  fmt::format("the meter's clock was {} s {}{}", d < 0 ? -d : d, d < 0 ? "behind" : "ahead",
                              o.ok ? "; set" : "; not set: " + o.error));
    }
  }
  tx.commit();
  return result;
}

} // namespace kwh::daemon
