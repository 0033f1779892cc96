#include <kwh/hub/outbox.hpp>

#include <kwh/crypto/hmac.hpp>
#include <kwh/crypto/sha256.hpp>

#include <fmt/format.h>

namespace kwh::hub {

namespace {

std::optional<std::string> setting(storage::Database& db, std::string_view key) {
  auto& st = db.cached("SELECT value FROM settings WHERE key = ?1");
  st.bind(1, key);
  std::optional<std::string> v;
  if (st.step()) v = st.get_text(0);
  st.reset();
  return v;
}

std::int64_t setting_int(storage::Database& db, std::string_view key) {
  auto v = setting(db, key);
  return v ? std::strtoll(v->c_str(), nullptr, 10) : 0;
}

void set_setting(storage::Database& db, std::string_view key, const std::optional<std::string>& value) {
  if (!value) {
    db.cached("DELETE FROM settings WHERE key = ?1").bind(1, key).run();
    return;
  }
  db.cached("INSERT INTO settings(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
      .bind_all(key, *value)
      .run();
}

OutboxRow read_row(storage::Statement& st, std::string_view site_id, std::string_view epoch) {
  OutboxRow r;
  r.seq = st.get_int(0);
  r.kind = st.get_text(1);
  r.key = st.get_text(2);
  r.payload = st.get_text(3);
  r.time = st.get_int(4);
  r.hash = row_hash(site_id, epoch, r.seq, r.kind, r.payload);
  return r;
}

} // namespace

std::string row_hash(std::string_view site_id, std::string_view epoch, std::int64_t seq, std::string_view kind,
                     std::string_view payload) {
  Sha256 h;
  const std::string number = std::to_string(seq);
  h.update(site_id).update("|").update(epoch).update("|").update(number).update("|");
  h.update(kind).update("|").update(payload);
  return to_hex(h.finish());
}

OutboxState read_state(storage::Database& db) {
  OutboxState s;
  s.epoch = setting(db, "hub.site_epoch").value_or("");
  s.claimed = setting_int(db, "hub.claimed");
  s.pushed = setting_int(db, "hub.pushed");
  {
    auto st = db.prepare("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)");
    st.step();
    s.max_seq = st.get_int(0);
  }
  {
    auto st = db.prepare("SELECT count(*), min(time) FROM outbox WHERE seq > ?1");
    st.bind(1, s.pushed);
    st.step();
    s.waiting = st.get_int(0);
    s.oldest_waiting = st.get_opt_int(1);
  }
  if (auto v = setting(db, "hub.last_push")) s.last_push = std::strtoll(v->c_str(), nullptr, 10);
  s.last_error = setting(db, "hub.last_error");
  if (auto v = setting(db, "hub.last_error_time")) s.last_error_time = std::strtoll(v->c_str(), nullptr, 10);
  s.alarm = setting(db, "hub.alarm");
  s.previous_epoch = setting(db, "hub.previous_epoch");
  return s;
}

std::int64_t claim(storage::Database& db, std::int64_t after, int batch) {
  auto st = db.prepare("SELECT max(seq) FROM (SELECT seq FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2)");
  st.bind_all(after, batch);
  st.step();
  const std::int64_t last = st.is_null(0) ? after : st.get_int(0);
  st = storage::Statement();
  if (last > setting_int(db, "hub.claimed")) set_setting(db, "hub.claimed", std::to_string(last));
  // The marks get the row as it is now: a ledger entry (which never changes), a day of usage, an
  // account. A row that is gone (none is deleted today) is sent as its key alone.
  auto ledger = db.prepare(
      "UPDATE outbox SET payload = coalesce((SELECT json_object('id', l.id, 'account_id', l.account_id, 'account', "
      "(SELECT name FROM accounts WHERE id = l.account_id), 'time', l.time, 'kind', l.kind, 'amount', l.amount, "
      "'balance', l.balance, 'receipt', l.receipt, 'method', l.method, 'ref', l.ref, 'operator', l.operator, "
      "'meter_id', l.meter_id, 'meter', (SELECT name FROM meters WHERE id = l.meter_id), 't0', l.t0, 't1', l.t1, "
      "'quantity', l.quantity, 'band', l.band, 'reverses', l.reverses, 'note', l.note, 'hash', lower(hex(l.hash)), "
      "'accrued', l.accrued, 'debt_id', l.debt_id) FROM ledger l WHERE l.id = CAST(outbox.key AS INTEGER)), "
      "json_object('key', key, 'gone', 1)) WHERE seq > ?1 AND seq <= ?2 AND payload IS NULL AND kind = 'ledger'");
  ledger.bind_all(after, last).run();
  auto usage = db.prepare(
      "UPDATE outbox SET payload = coalesce((SELECT json_object('day', u.day, 'meter_id', u.meter_id, 'meter', "
      "(SELECT name FROM meters WHERE id = u.meter_id), 'meter_kind', (SELECT kind FROM meters WHERE id = u.meter_id), 'account_id', u.account_id, 'account', (SELECT name FROM "
      "accounts WHERE id = u.account_id), 'quantity', u.quantity, 'cost', u.cost) FROM daily_usage u WHERE "
      "u.day || ':' || u.meter_id || ':' || u.account_id = outbox.key AND u.day = CAST(outbox.key AS INTEGER) "
      "AND u.meter_id = CAST(substr(outbox.key, instr(outbox.key, ':') + 1) AS INTEGER)), json_object('key', key, "
      "'gone', 1)) WHERE seq > ?1 AND seq <= ?2 AND payload IS NULL AND kind = 'daily_usage'");
  usage.bind_all(after, last).run();
  auto accounts = db.prepare(
      "UPDATE outbox SET payload = coalesce((SELECT json_object('id', a.id, 'name', a.name, 'holder', a.holder, "
      "'phone', a.phone, 'building', a.building, 'tariff_id', a.tariff_id, 'tariff', (SELECT name FROM tariffs WHERE "
      "id = a.tariff_id), 'alarm1', a.alarm1, 'alarm2', a.alarm2, 'credit_limit', a.credit_limit, 'balance', "
      "a.balance, 'status', a.status, 'opened', a.opened, 'closed', a.closed, 'emergency_credit', "
      "a.emergency_credit, 'emergency_owed', a.emergency_owed, 'language', a.language, 'ledger_id', coalesce((SELECT max(l.id) FROM "
      "ledger l WHERE l.account_id = a.id), 0)) FROM accounts a WHERE a.id = CAST(outbox.key AS INTEGER)), "
      "json_object('key', key, 'gone', 1)) WHERE seq > ?1 AND seq <= ?2 AND payload IS NULL AND kind = "
      "'account'");
  accounts.bind_all(after, last).run();
  return last;
}

void set_usage_every(storage::Database& db, std::chrono::seconds every) {
  const std::string value = std::to_string(every.count());
  if (setting(db, "hub.usage_every") != value) set_setting(db, "hub.usage_every", value);
}

bool sweep_due(storage::Database& db, UnixTime now, std::chrono::seconds every) {
  auto& st = db.cached("SELECT EXISTS (SELECT 1 FROM outbox WHERE seq > ?1 AND seq <= ?2 AND kind IN ('daily_usage', "
                       "'account') AND time <= ?3)");
  st.bind_all(setting_int(db, "hub.usage_swept"), setting_int(db, "hub.claimed"), now - every.count());
  st.step();
  const bool due = st.get_int(0) != 0;
  st.reset();
  return due;
}

std::int64_t sweep_marks(storage::Database& db, UnixTime now, std::chrono::seconds every) {
  const std::int64_t claimed = setting_int(db, "hub.claimed");
  std::int64_t swept = setting_int(db, "hub.usage_swept");
  std::int64_t added = 0;
  // Marks in seq order were written in time order: the first one too young ends the pass. A
  // mark is sent again when it is still its key's newest and what it carried moved on since: a
  // day's quantity or cost, an account's balance (its other columns mark it at once).
  auto marks = db.prepare(
      "SELECT seq, kind, key, time, NOT EXISTS (SELECT 1 FROM outbox n WHERE n.kind = o.kind AND n.key = o.key "
      "AND n.seq > o.seq) AND CASE o.kind WHEN 'daily_usage' THEN EXISTS (SELECT 1 FROM daily_usage u WHERE "
      "u.day || ':' || u.meter_id || ':' || u.account_id = o.key AND u.day = CAST(o.key AS INTEGER) AND "
      "(u.quantity IS NOT json_extract(o.payload, '$.quantity') OR u.cost IS NOT json_extract(o.payload, '$.cost'))) "
      "ELSE EXISTS (SELECT 1 FROM accounts a WHERE a.id = CAST(o.key AS INTEGER) AND a.balance IS NOT "
      "json_extract(o.payload, '$.balance')) END "
      "FROM outbox o WHERE o.seq > ?1 AND o.seq <= ?2 AND o.kind IN ('daily_usage', 'account') ORDER BY o.seq");
  marks.bind_all(swept, claimed);
  std::vector<std::pair<std::string, std::string>> again;
  while (marks.step()) {
    if (marks.get_int(3) > now - every.count()) break;
    swept = marks.get_int(0);
    if (marks.get_int(4) != 0) again.emplace_back(marks.get_text(1), marks.get_text(2));
  }
  marks = storage::Statement();
  for (const auto& [kind, key] : again) {
    db.cached("INSERT INTO outbox(kind, key, time) VALUES (?1, ?2, ?3)").bind_all(kind, key, now).run();
    ++added;
  }
  set_setting(db, "hub.usage_swept", std::to_string(swept));
  return added;
}

EpochReset reset_epoch(storage::Database& db, UnixTime now) {
  EpochReset r;
  r.previous = setting(db, "hub.site_epoch").value_or("");
  r.epoch = crypto::to_hex(crypto::random_bytes(16));
  db.exec("DELETE FROM outbox");
  db.exec("DELETE FROM sqlite_sequence WHERE name = 'outbox'");
  for (const char* key : {"hub.claimed", "hub.pushed", "hub.usage_swept", "hub.alarm", "hub.last_error",
                          "hub.last_error_time", "hub.last_push"})
    set_setting(db, key, std::nullopt);
  set_setting(db, "hub.site_epoch", r.epoch);
  if (!r.previous.empty()) set_setting(db, "hub.previous_epoch", r.previous);
  // In the order the hub applies them: accounts before the entries that name them.
  auto fill = [&](const char* sql) {
    auto st = db.prepare(sql);
    st.bind(1, now);
    st.run();
    r.rows += db.changes();
  };
  fill("INSERT INTO outbox(kind, key, time) SELECT 'account', CAST(id AS TEXT), ?1 FROM accounts ORDER BY id");
  fill("INSERT INTO outbox(kind, key, time) SELECT 'ledger', CAST(id AS TEXT), ?1 FROM ledger ORDER BY id");
  fill("INSERT INTO outbox(kind, key, time) SELECT 'daily_usage', day || ':' || meter_id || ':' || account_id, ?1 "
       "FROM daily_usage ORDER BY day, meter_id, account_id");
  return r;
}

std::string site_epoch(storage::Database& db) { return setting(db, "hub.site_epoch").value_or(""); }

std::vector<OutboxRow> rows(storage::Database& db, std::int64_t after, std::int64_t upto, std::string_view site_id,
                            std::string_view epoch) {
  std::vector<OutboxRow> out;
  auto st = db.prepare("SELECT seq, kind, key, payload, time FROM outbox WHERE seq > ?1 AND seq <= ?2 AND EXISTS "
                       "(SELECT 1 FROM settings WHERE key = 'hub.site_epoch' AND value = ?3) ORDER BY seq");
  st.bind_all(after, upto, epoch);
  while (st.step()) out.push_back(read_row(st, site_id, epoch));
  return out;
}

std::optional<OutboxRow> row_at(storage::Database& db, std::int64_t seq, std::string_view site_id,
                                std::string_view epoch) {
  auto st = db.prepare("SELECT seq, kind, key, payload, time FROM outbox WHERE seq = ?1");
  st.bind(1, seq);
  if (!st.step()) return std::nullopt;
  return read_row(st, site_id, epoch);
}

void record_pushed(storage::Database& db, std::int64_t seq, UnixTime t, std::chrono::seconds keep) {
  if (seq > setting_int(db, "hub.pushed")) set_setting(db, "hub.pushed", std::to_string(seq));
  set_setting(db, "hub.last_push", std::to_string(t));
  set_setting(db, "hub.last_error", std::nullopt);
  set_setting(db, "hub.last_error_time", std::nullopt);
  // A bounded number at a time, so that this transaction stays short.
  db.cached("DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE seq < ?1 AND time < ?2 ORDER BY seq "
            "LIMIT 5000)")
      .bind_all(seq, t - keep.count())
      .run();
}

void record_error(storage::Database& db, const std::string& what, UnixTime t) {
  set_setting(db, "hub.last_error", what);
  set_setting(db, "hub.last_error_time", std::to_string(t));
}

void record_alarm(storage::Database& db, const std::string& what, UnixTime t) {
  set_setting(db, "hub.alarm", what);
  record_error(db, what, t);
}

} // namespace kwh::hub
