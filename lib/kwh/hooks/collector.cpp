#include <kwh/hooks/collector.hpp>

#include <kwh/output/json.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/util/money.hpp>

#include <fmt/format.h>

namespace kwh::hooks {

namespace {

using output::Json;

constexpr const char* k_events = "hooks_events";     // the last events.id looked at
constexpr const char* k_ledger = "hooks_ledger";     // the last ledger.id looked at
constexpr const char* k_commands = "hooks_commands"; // the oldest commands.id not over when looked
constexpr const char* k_since = "hooks_since";       // when hooks were configured

std::optional<std::int64_t> get_setting(storage::Database& db, const char* key) {
  auto& st = db.cached("SELECT value FROM settings WHERE key = ?1");
  st.bind(1, key);
  std::optional<std::int64_t> v;
  if (st.step()) v = std::stoll(st.get_text(0));
  st.reset();
  return v;
}

void set_setting(storage::Database& db, const char* key, std::int64_t value) {
  db.cached("INSERT INTO settings(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
      .bind_all(key, std::to_string(value))
      .run();
}

std::int64_t single(storage::Database& db, std::string_view sql) {
  auto& st = db.cached(sql);
  st.step();
  const std::int64_t v = st.get_int(0);
  st.reset();
  return v;
}

// The commands cursor: the oldest relay command still pending or running, else past the newest,
// so that a command finishing later is looked at again.
std::int64_t commands_floor(storage::Database& db, std::int64_t from) {
  auto& st = db.cached("SELECT coalesce((SELECT min(id) FROM commands WHERE id >= ?1 AND state IN ('pending', 'running') "
                       "AND action IN ('relay_off', 'relay_on')), (SELECT coalesce(max(id), 0) + 1 FROM commands))");
  st.bind(1, from);
  st.step();
  const std::int64_t v = st.get_int(0);
  st.reset();
  return v;
}

class Collector {
public:
  Collector(storage::Database& db, const config::Config& cfg, UnixTime now) : m_db(db), m_cfg(cfg), m_now(now) {}

  bool wants(const std::string& kind) const { return m_cfg.hooks.programs.count(kind) > 0; }

  std::string money(std::int64_t minor) const { return Money::from_minor(minor).format(m_cfg.minor_units); }

  // What every payload has: the kind, the account (the meter's current one for meter events),
  // its holder, phone, balance and status, the meter, and the time of what happened.
  Json base(const std::string& kind, UnixTime time, std::optional<std::int64_t>& account_id,
            std::optional<std::int64_t> meter_id) {
    if (!account_id && meter_id) {
      auto& st = m_db.cached("SELECT account_id FROM assignments WHERE meter_id = ?1 AND valid_to IS NULL");
      st.bind(1, *meter_id);
      if (st.step()) account_id = st.get_int(0);
      st.reset();
    }
    Json o = Json::object();
    o.set("kind", kind);
    Json account, name, phone, language, balance, status, meter;
    if (account_id) {
      auto& st = m_db.cached("SELECT name, holder, phone, balance, status, language FROM accounts WHERE id = ?1");
      st.bind(1, *account_id);
      if (st.step()) {
        account = st.get_text(0);
        name = st.get_text(1);
        if (auto p = st.get_opt_text(2)) phone = *p;
        balance = money(st.get_int(3));
        status = st.get_text(4);
        if (auto l = st.get_opt_text(5)) language = *l;
      }
      st.reset();
    }
    if (meter_id) {
      auto& st = m_db.cached("SELECT name FROM meters WHERE id = ?1");
      st.bind(1, *meter_id);
      if (st.step()) meter = st.get_text(0);
      st.reset();
    } else if (account_id) {
      // An account's event names its meter (the first, when it has several).
      auto& st = m_db.cached("SELECT m.name FROM assignments a JOIN meters m ON m.id = a.meter_id "
                             "WHERE a.account_id = ?1 AND a.valid_to IS NULL ORDER BY m.id LIMIT 1");
      st.bind(1, *account_id);
      if (st.step()) meter = st.get_text(0);
      st.reset();
    }
    o.set("account", std::move(account))
        .set("name", std::move(name))
        .set("phone", std::move(phone))
        .set("language", std::move(language))
        .set("balance", std::move(balance))
        .set("status", std::move(status))
        .set("meter", std::move(meter))
        .set("time", format_time(time));
    return o;
  }

  void add(const std::string& kind, std::int64_t source_id, std::optional<std::int64_t> account_id, const Json& payload) {
    auto& st = m_db.cached("INSERT INTO hook_deliveries(kind, source_id, account_id, created, payload, next_try) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?4) ON CONFLICT(kind, source_id) DO NOTHING");
    st.bind_all(kind, source_id, account_id, m_now, payload.dump(-1));
    st.run();
    m_made += m_db.changes();
  }

  void events(std::int64_t after) {
    auto& st = m_db.cached(
        "SELECT e.id, e.time, e.kind, e.meter_id, e.account_id, e.detail, g.name, a.alarm1, a.alarm2, a.credit_limit, "
        // A meter's held readings are one episode until its implausible events end: one message.
        "e.kind = 'implausible' AND EXISTS (SELECT 1 FROM events p WHERE p.meter_id = e.meter_id AND p.kind = "
        "'implausible' AND p.id < e.id AND (p.ended IS NULL OR p.ended >= e.time)) "
        "FROM events e LEFT JOIN gateways g ON g.id = e.gateway_id LEFT JOIN accounts a ON a.id = e.account_id "
        "WHERE e.id > ?1 AND e.kind IN ('alarm1', 'alarm2', 'arrears', 'meter_offline', 'implausible') ORDER BY e.id");
    st.bind(1, after);
    struct Row {
      std::int64_t id;
      UnixTime time;
      std::string kind;
      std::optional<std::int64_t> meter, account;
      std::optional<std::string> detail, gateway;
      std::optional<std::int64_t> alarm1, alarm2, credit_limit;
      bool same_episode;
    };
    std::vector<Row> rows;
    while (st.step())
      rows.push_back({st.get_int(0), st.get_int(1), st.get_text(2), st.get_opt_int(3), st.get_opt_int(4),
                      st.get_opt_text(5), st.get_opt_text(6), st.get_opt_int(7), st.get_opt_int(8), st.get_opt_int(9), st.get_int(10) != 0});
    st.reset();
    for (auto& r : rows) {
      std::string kind = r.kind == "alarm1" || r.kind == "alarm2" ? "low_balance"
                         : r.kind == "implausible"               ? "reading_held"
                                                                 : r.kind;
      if (!wants(kind) || r.same_episode) continue;
      Json p = base(kind, r.time, r.account, r.meter);
      if (kind == "low_balance") {
        auto level = r.kind == "alarm1" ? r.alarm1 : r.alarm2;
        p.set("level", r.kind).set("threshold", level ? Json(money(*level)) : Json());
      } else if (kind == "arrears") {
        p.set("credit_limit", r.credit_limit ? Json(money(*r.credit_limit)) : Json());
      } else if (kind == "meter_offline") {
        p.set("gateway", r.gateway ? Json(*r.gateway) : Json());
      }
      p.set("detail", r.detail ? Json(*r.detail) : Json()).set("event", r.id);
      add(kind, r.id, r.account, p);
    }
  }

  void ledger(std::int64_t after) {
    auto& st = m_db.cached("SELECT id, account_id, time, kind, amount, balance, receipt, method, ref FROM ledger "
                           "WHERE id > ?1 AND (kind = 'sale' OR (kind = 'emergency' AND amount > 0)) ORDER BY id");
    st.bind(1, after);
    struct Row {
      std::int64_t id;
      std::optional<std::int64_t> account;
      UnixTime time;
      std::string kind;
      std::int64_t amount, balance;
      std::optional<std::int64_t> receipt;
      std::optional<std::string> method, ref;
    };
    std::vector<Row> rows;
    while (st.step())
      rows.push_back({st.get_int(0), st.get_int(1), st.get_int(2), st.get_text(3), st.get_int(4), st.get_int(5),
                      st.get_opt_int(6), st.get_opt_text(7), st.get_opt_text(8)});
    st.reset();
    for (auto& r : rows) {
      const std::string kind = r.kind == "sale" ? "payment" : "emergency_credit";
      if (!wants(kind)) continue;
      Json p = base(kind, r.time, r.account, std::nullopt);
      // The balance right after the entry, as the receipt says, not whatever it is by now.
      p.set("balance", money(r.balance)).set("amount", money(r.amount));
      if (kind == "payment")
        p.set("receipt", r.receipt ? Json(*r.receipt) : Json())
            .set("method", r.method ? Json(*r.method) : Json())
            .set("ref", r.ref ? Json(*r.ref) : Json());
      p.set("entry", r.id);
      add(kind, r.id, r.account, p);
    }
  }

  void commands_done(std::int64_t from, UnixTime since) {
    if (!wants("relay_off") && !wants("relay_on")) return;
    auto& st = m_db.cached("SELECT c.id, c.meter_id, c.action, c.reason, c.finished FROM commands c WHERE c.id >= ?1 "
                           "AND c.state = 'done' AND c.action IN ('relay_off', 'relay_on') AND c.finished >= ?2 "
                           "AND NOT EXISTS (SELECT 1 FROM hook_deliveries d WHERE d.kind = c.action AND d.source_id = c.id) "
                           "ORDER BY c.id");
    st.bind_all(from, since);
    struct Row {
      std::int64_t id, meter;
      std::string action;
      std::optional<std::string> reason;
      UnixTime finished;
    };
    std::vector<Row> rows;
    while (st.step())
      rows.push_back({st.get_int(0), st.get_int(1), st.get_text(2), st.get_opt_text(3), st.get_int(4)});
    st.reset();
    for (auto& r : rows) {
      if (!wants(r.action)) continue;
      std::optional<std::int64_t> account;
      Json p = base(r.action, r.finished, account, r.meter);
      p.set("reason", r.reason ? Json(*r.reason) : Json()).set("command", r.id);
      add(r.action, r.id, account, p);
    }
  }

  // Disconnections held back by friendly hours or days that are due within warn_before.
  void cutoff_warnings() {
    if (!wants("cutoff_warning")) return;
    auto& st = m_db.cached(
        "SELECT c.id, c.meter_id, c.not_before FROM commands c WHERE c.state = 'pending' AND c.not_before > ?1 "
        "AND c.not_before <= ?2 AND c.action = 'relay_off' AND c.reason = 'arrears' AND c.not_before > c.created "
        "AND c.attempts = 0 AND NOT EXISTS (SELECT 1 FROM hook_deliveries d WHERE d.kind = 'cutoff_warning' "
        "AND d.source_id = c.id) ORDER BY c.id");
    st.bind_all(m_now, m_now + m_cfg.hooks.warn_before.count());
    std::vector<std::tuple<std::int64_t, std::int64_t, UnixTime>> rows;
    while (st.step()) rows.emplace_back(st.get_int(0), st.get_int(1), st.get_int(2));
    st.reset();
    for (auto& [id, meter, at] : rows) {
      std::optional<std::int64_t> account;
      Json p = base("cutoff_warning", m_now, account, meter);
      p.set("cutoff", format_time(at)).set("command", id);
      add("cutoff_warning", id, account, p);
    }
  }

  int made() const { return m_made; }

private:
  storage::Database& m_db;
  const config::Config& m_cfg;
  UnixTime m_now;
  int m_made = 0;
};

} // namespace

int collect(storage::Database& db, const config::Config& cfg, UnixTime now) {
  if (!cfg.hooks.any()) return 0;
  auto events = get_setting(db, k_events);
  auto ledger = get_setting(db, k_ledger);
  auto commands = get_setting(db, k_commands);
  auto since = get_setting(db, k_since);
  const std::int64_t last_event = single(db, "SELECT coalesce(max(id), 0) FROM events");
  const std::int64_t last_entry = single(db, "SELECT coalesce(max(id), 0) FROM ledger");
  if (!events || !ledger || !commands || !since) {
    // First configured: start here.
    set_setting(db, k_events, last_event);
    set_setting(db, k_ledger, last_entry);
    set_setting(db, k_commands, commands_floor(db, 0));
    set_setting(db, k_since, now);
    return 0;
  }
  Collector c(db, cfg, now);
  if (last_event > *events) {
    c.events(*events);
    set_setting(db, k_events, last_event);
  }
  if (last_entry > *ledger) {
    c.ledger(*ledger);
    set_setting(db, k_ledger, last_entry);
  }
  c.commands_done(*commands, *since);
  const std::int64_t floor = commands_floor(db, *commands);
  if (floor != *commands) set_setting(db, k_commands, floor);
  c.cutoff_warnings();
  return c.made();
}

void forget_cursors(storage::Database& db) {
  db.cached("DELETE FROM settings WHERE key IN ('hooks_events', 'hooks_ledger', 'hooks_commands', 'hooks_since')").run();
}

} // namespace kwh::hooks
