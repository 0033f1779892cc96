#include <kwh/billing/status.hpp>

#include <kwh/billing/credit.hpp>
#include <kwh/storage/database.hpp>

#include <fmt/format.h>

namespace kwh::billing {

namespace {

// Emergency sits between alarm2 and arrears: an account on emergency credit is past its alarms,
// and its alarm events stay open until a top-up repays it.
int rank(const std::string& s) {
  if (s == "alarm1") return 1;
  if (s == "alarm2") return 2;
  if (s == "emergency") return 3;
  if (s == "arrears") return 4;
  return 0;
}

const char* k_levels[] = {"ok", "alarm1", "alarm2", "emergency", "arrears"};

} // namespace

std::string compute_status(std::int64_t balance, std::optional<std::int64_t> alarm1,
                           std::optional<std::int64_t> alarm2, std::int64_t credit_limit, std::int64_t emergency_owed) {
  if (balance <= -credit_limit) return "arrears";
  if (emergency_owed > 0) return "emergency";
  if (alarm2 && balance <= *alarm2) return "alarm2";
  if (alarm1 && balance <= *alarm1) return "alarm1";
  return "ok";
}

UnixTime friendly_not_before(const config::Billing& billing, UnixTime now) {
  UnixTime t = now;
  // Windows may chain (friendly days followed by friendly evening hours); a few rounds settle it.
  for (int round = 0; round < 16; ++round) {
    auto l = to_local(t);
    int minute = l.hour * 60 + l.minute;
    UnixTime next = t;
    for (int d : billing.friendly_days)
      if (d == l.weekday) next = std::max(next, add_local_days(local_day_start(t), 1));
    for (const auto& w : billing.friendly_hours) {
      if (!w.contains(minute)) continue;
      // The window ends at to_minute today, or tomorrow when it crosses midnight and we are in its evening.
      int day_offset = (w.from_minute > w.to_minute && minute >= w.from_minute) ? 1 : 0;
      UnixTime end = from_local(l.year, l.month, l.day + day_offset, w.to_minute / 60, w.to_minute % 60);
      next = std::max(next, end);
    }
    if (next == t) return t;
    t = next;
  }
  return t;
}

std::int64_t queue_command(storage::Database& db, std::int64_t meter_id, const std::string& action,
                           const std::string& reason, UnixTime created, UnixTime not_before,
                           const std::optional<std::string>& operator_name) {
  auto& st = db.cached("INSERT INTO commands(meter_id, action, reason, created, not_before, operator) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  st.bind_all(meter_id, action, reason, created, not_before, operator_name);
  st.run();
  return db.last_insert_rowid();
}

std::int64_t write_event(storage::Database& db, UnixTime time, const std::string& kind,
                         std::optional<std::int64_t> meter_id, std::optional<std::int64_t> account_id,
                         const std::string& detail) {
  auto& st = db.cached("INSERT INTO events(time, kind, meter_id, account_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)");
  st.bind_all(time, kind, meter_id, account_id, detail);
  st.run();
  return db.last_insert_rowid();
}

StatusChange update_status(storage::Database& db, const config::Config& config, std::int64_t account_id,
                           UnixTime event_time, UnixTime now, bool after_sale, bool after_grant) {
  StatusChange change;
  auto& acc = db.cached("SELECT status, balance, alarm1, alarm2, credit_limit, name, emergency_owed, emergency_credit "
                        "FROM accounts WHERE id = ?1");
  acc.bind(1, account_id);
  if (!acc.step()) fail(Exit::no_input, "no such account id {}", account_id);
  change.before = acc.get_text(0);
  std::int64_t balance = acc.get_int(1);
  auto alarm1 = acc.get_opt_int(2);
  auto alarm2 = acc.get_opt_int(3);
  std::int64_t credit_limit = acc.get_int(4);
  std::string name = acc.get_text(5);
  std::int64_t owed = acc.get_int(6);
  const std::int64_t emergency = emergency_amount(config, acc.get_opt_int(7));
  acc.reset();
  if (change.before == "closed") {
    change.after = "closed";
    return change;
  }
  // [billing] emergency_credit_auto: kwh grants it as soon as it is offered (never after a sale,
  // which is the tenant paying, nor twice before it is repaid).
  if (config.billing.emergency_credit_auto && !after_sale &&
      !emergency_refusal(config, change.before, balance, owed, emergency)) {
    change.granted = write_grant(db, config, account_id, emergency, "kwh", event_time, true);
    balance += emergency;
    owed += emergency;
    after_grant = true;
  }
  change.after = compute_status(balance, alarm1, alarm2, credit_limit, owed);
  int from = rank(change.before), to = rank(change.after);
  std::string money = Money::from_minor(balance).format(config.minor_units);
  if (to > from) {
    for (int level = from + 1; level <= to; ++level) {
      // An account on emergency credit says so by its own event (emergency_credit, at the grant).
      if ((level == 1 && !alarm1) || (level == 2 && !alarm2) || level == 3) continue;
      write_event(db, event_time, k_levels[level], std::nullopt, account_id,
                  fmt::format("account {} balance {}", name, money));
      change.events.push_back(k_levels[level]);
    }
  } else if (to < from) {
    auto& end = db.cached("UPDATE events SET ended = ?1 WHERE account_id = ?2 AND ended IS NULL AND kind IN "
                          "('alarm1', 'alarm2', 'arrears') AND (CASE kind WHEN 'alarm1' THEN 1 WHEN 'alarm2' "
                          "THEN 2 ELSE 4 END) > ?3");
    end.bind_all(event_time, account_id, to);
    end.run();
  }
  if (to != from) {
    auto& upd = db.cached("UPDATE accounts SET status = ?2 WHERE id = ?1");
    upd.bind_all(account_id, change.after);
    upd.run();
  }

  // The account's current meters with automatic relays.
  struct MeterRelay {
    std::int64_t id;
    std::string mode, state;
    std::optional<std::string> reason;
  };
  std::vector<MeterRelay> meters;
  {
    auto& ms = db.cached("SELECT m.id, m.relay_mode, m.relay_state, m.relay_reason FROM assignments a "
                         "JOIN meters m ON m.id = a.meter_id WHERE a.account_id = ?1 AND a.valid_to IS NULL "
                         "ORDER BY m.id");
    ms.bind(1, account_id);
    while (ms.step()) meters.push_back({ms.get_int(0), ms.get_text(1), ms.get_text(2), ms.get_opt_text(3)});
    ms.reset();
  }
  auto set_reason = [&](std::int64_t meter, std::optional<std::string> reason) {
    auto& st = db.cached("UPDATE meters SET relay_reason = ?2 WHERE id = ?1");
    st.bind_all(meter, reason);
    st.run();
  };
  if (change.after == "arrears") {
    UnixTime not_before = friendly_not_before(config.billing, now);
    for (const auto& m : meters) {
      if (m.mode != "auto" || m.reason == std::optional<std::string>("arrears")) continue;
      change.commands.push_back(queue_command(db, m.id, "relay_off", "arrears", now, not_before));
      set_reason(m.id, "arrears");
    }
    return change;
  }
  for (const auto& m : meters) {
    if (m.reason != std::optional<std::string>("arrears")) continue;
    auto& cancel = db.cached("UPDATE commands SET state = 'cancelled', finished = ?2, last_error = "
                             "'cancelled: the account left arrears' WHERE meter_id = ?1 AND action = 'relay_off' "
                             "AND reason = 'arrears' AND state = 'pending'");
    cancel.bind_all(m.id, now);
    cancel.run();
    bool never_opened = db.changes() > 0 && m.state != "off";
    if (never_opened) {
      set_reason(m.id, std::nullopt);
      continue;
    }
    // Emergency credit closes them again whatever [billing] reconnect_above says: that is what
    // it is for.
    if (((after_sale && balance > config.billing.reconnect_above.minor()) || after_grant) && m.mode != "off") {
      change.commands.push_back(queue_command(db, m.id, "relay_on", after_grant ? "emergency" : "topup", now, now));
      set_reason(m.id, std::nullopt);
    }
  }
  return change;
}

} // namespace kwh::billing
