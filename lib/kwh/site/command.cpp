#include <kwh/site/command.hpp>

#include <fmt/format.h>

namespace kwh::site {

namespace {

constexpr const char* k_select =
    "SELECT c.id, c.meter_id, m.name, c.action, c.argument, c.reason, c.state, c.created, c.not_before, c.attempts, "
    "c.last_error, c.readback, c.finished, c.operator FROM commands c JOIN meters m ON m.id = c.meter_id";

Command row_to_command(const storage::Statement& st) {
  Command c;
  c.id = st.get_int(0);
  c.meter_id = st.get_int(1);
  c.meter = st.get_text(2);
  c.action = st.get_text(3);
  c.argument = st.get_opt_text(4);
  c.reason = st.get_opt_text(5);
  c.state = st.get_text(6);
  c.created = st.get_int(7);
  c.not_before = st.get_int(8);
  c.attempts = static_cast<int>(st.get_int(9));
  c.last_error = st.get_opt_text(10);
  c.readback = st.get_opt_text(11);
  c.finished = st.get_opt_int(12);
  c.operator_name = st.get_opt_text(13);
  return c;
}

bool is_relay(const std::string& action) { return action == "relay_on" || action == "relay_off"; }

void check_action(const std::string& action) {
  if (action != "relay_on" && action != "relay_off" && action != "set" && action != "sync_time")
    fail(Exit::usage, "unknown command action '{}'", action);
}

} // namespace

std::int64_t queue_command(storage::Database& db, const NewCommand& c) {
  check_action(c.action);
  UnixTime t = now();
  if (is_relay(c.action)) {
    db.prepare("UPDATE commands SET state = 'cancelled', finished = ?2, last_error = 'superseded by a newer relay command' "
               "WHERE meter_id = ?1 AND state = 'pending' AND action IN ('relay_on', 'relay_off')")
        .bind_all(c.meter_id, t)
        .run();
  }
  db.prepare("INSERT INTO commands(meter_id, action, argument, reason, state, created, not_before, operator) "
             "VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7)")
      .bind_all(c.meter_id, c.action, c.argument, c.reason, t, c.not_before.value_or(t), c.operator_name)
      .run();
  return db.last_insert_rowid();
}

std::int64_t record_direct_command(storage::Database& db, const NewCommand& c, bool ok,
                                   const std::optional<std::string>& error, const std::optional<std::string>& readback) {
  check_action(c.action);
  UnixTime t = now();
  db.prepare("INSERT INTO commands(meter_id, action, argument, reason, state, created, not_before, attempts, "
             "last_error, readback, finished, operator) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 1, ?7, ?8, ?6, ?9)")
      .bind_all(c.meter_id, c.action, c.argument, c.reason, ok ? "done" : "failed", t, error, readback, c.operator_name)
      .run();
  return db.last_insert_rowid();
}

std::optional<Command> find_command(storage::Database& db, std::int64_t id) {
  auto st = db.prepare(fmt::format("{} WHERE c.id = ?1", k_select));
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return row_to_command(st);
}

std::vector<Command> commands(storage::Database& db, const std::vector<std::int64_t>& ids) {
  std::vector<Command> out;
  auto st = db.prepare(fmt::format("{} WHERE c.id = ?1", k_select));
  for (auto id : ids) {
    st.reset();
    st.bind(1, id);
    if (st.step()) out.push_back(row_to_command(st));
  }
  return out;
}

std::optional<ClockCheck> last_clock_check(storage::Database& db, std::int64_t meter_id) {
  auto st = db.prepare("SELECT clock_drift, clock_checked_at FROM meters WHERE id = ?1 AND clock_checked_at IS NOT NULL");
  st.bind(1, meter_id);
  if (!st.step()) return std::nullopt;
  return ClockCheck{st.get_int(0), st.get_int(1)};
}

} // namespace kwh::site
