#include <kwh/hooks/delivery.hpp>

#include <kwh/storage/database.hpp>

#include <algorithm>

namespace kwh::hooks {

std::vector<Due> due(storage::Database& db, const config::Config& cfg, UnixTime now, std::size_t limit,
                     const std::set<std::int64_t>& running) {
  std::vector<Due> out;
  if (limit == 0) return out;
  auto& st = db.cached("SELECT id, kind, payload, attempts FROM hook_deliveries WHERE state = 'pending' AND next_try <= ?1 "
                       "ORDER BY next_try, id");
  st.bind(1, now);
  while (out.size() < limit && st.step()) {
    const auto id = st.get_int(0);
    std::string kind = st.get_text(1);
    // A kind whose program was taken out of [hooks] waits, pending, until it has one again.
    if (running.count(id) || !cfg.hooks.programs.count(kind)) continue;
    out.push_back({id, std::move(kind), st.get_text(2), static_cast<int>(st.get_int(3))});
  }
  st.reset();
  return out;
}

std::string record(storage::Database& db, const config::Config& cfg, std::int64_t id, const std::string& program,
                   bool ok, const std::string& error, UnixTime now) {
  auto& get = db.cached("SELECT attempts FROM hook_deliveries WHERE id = ?1");
  get.bind(1, id);
  if (!get.step()) {
    get.reset();
    fail(Exit::no_input, "no hook delivery {}", id);
  }
  const int attempts = static_cast<int>(get.get_int(0)) + 1;
  get.reset();
  if (ok) {
    db.cached("UPDATE hook_deliveries SET state = 'sent', attempts = ?2, program = ?3, last_try = ?4, finished = ?4 "
              "WHERE id = ?1")
        .bind_all(id, attempts, program, now)
        .run();
    return "sent";
  }
  // attempts - 1 retries were made; the next waits retry[attempts - 1].
  const auto n = static_cast<std::size_t>(attempts);
  if (n > cfg.hooks.retry.size()) {
    db.cached("UPDATE hook_deliveries SET state = 'failed', attempts = ?2, program = ?3, last_try = ?4, finished = ?4, "
              "last_error = ?5 WHERE id = ?1")
        .bind_all(id, attempts, program, now, error)
        .run();
    return "failed";
  }
  db.cached("UPDATE hook_deliveries SET attempts = ?2, program = ?3, last_try = ?4, next_try = ?5, last_error = ?6 "
            "WHERE id = ?1")
      .bind_all(id, attempts, program, now, now + cfg.hooks.retry[n - 1].count(), error)
      .run();
  return "pending";
}

std::int64_t pending_count(storage::Database& db) {
  auto& st = db.cached("SELECT count(*) FROM hook_deliveries WHERE state = 'pending'");
  st.step();
  const auto n = st.get_int(0);
  st.reset();
  return n;
}

std::string program_text(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    const bool quote = a.empty() || a.find_first_of(" \t\"'\\") != std::string::npos;
    if (!quote) {
      out += a;
      continue;
    }
    out += '"';
    for (char c : a) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out;
}

std::vector<Delivery> list(storage::Database& db, const ListFilter& f) {
  auto st = db.prepare("SELECT d.id, d.created, d.kind, a.name, d.program, d.state, d.attempts, d.last_try, "
                       "CASE d.state WHEN 'pending' THEN d.next_try END, d.finished, d.last_error, d.payload "
                       "FROM hook_deliveries d LEFT JOIN accounts a ON a.id = d.account_id "
                       "WHERE (?1 IS NULL OR d.created >= ?1) AND (?2 IS NULL OR d.kind = ?2) "
                       "AND (?3 IS NULL OR d.state = ?3) AND (?4 IS NULL OR a.name = ?4) ORDER BY d.id");
  st.bind_all(f.since, f.kind, f.state, f.account);
  std::vector<Delivery> out;
  while (st.step()) {
    Delivery d;
    d.id = st.get_int(0);
    d.created = st.get_int(1);
    d.kind = st.get_text(2);
    d.account = st.get_opt_text(3);
    d.program = st.get_opt_text(4);
    d.state = st.get_text(5);
    d.attempts = static_cast<int>(st.get_int(6));
    d.last_try = st.get_opt_int(7);
    d.next_try = st.get_opt_int(8);
    d.finished = st.get_opt_int(9);
    d.last_error = st.get_opt_text(10);
    d.payload = st.get_text(11);
    out.push_back(std::move(d));
  }
  return out;
}

} // namespace kwh::hooks
