#include <kwh/daemon/commands.hpp>

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
  tx.commit();
  return result;
}

} // namespace kwh::daemon
