#include <kwh/site/gateway.hpp>

#include <fmt/format.h>

#include <cctype>


namespace kwh::site {

namespace {

constexpr const char* k_columns =
    "id, name, transport, address, baud, parity, stop_bits, timeout_ms, gap_ms, status, status_since, created, "
    "protocol, password, operator_code, rts, rts_delay_us, retired";

Gateway row_to_gateway(const storage::Statement& st) {
  Gateway g;
  g.id = st.get_int(0);
  g.name = st.get_text(1);
  if (auto k = transport::parse_kind(st.get_text(2))) g.transport = *k;
  g.address = st.get_text(3);
  if (auto v = st.get_opt_int(4)) g.baud = static_cast<int>(*v);
  if (auto v = st.get_opt_text(5); v && !v->empty()) g.parity = (*v)[0];
  if (auto v = st.get_opt_int(6)) g.stop_bits = static_cast<int>(*v);
  if (auto v = st.get_opt_int(7)) g.timeout_ms = static_cast<int>(*v);
  g.gap_ms = static_cast<int>(st.get_int(8));
  g.status = st.get_text(9);
  g.status_since = st.get_opt_int(10);
  g.created = st.get_int(11);
  g.protocol = st.get_text(12) == "dlt645" ? transport::Protocol::dlt645 : transport::Protocol::modbus;
  g.password = st.get_opt_text(13);
  g.operator_code = st.get_opt_text(14);
  g.rts = st.get_opt_text(15);
  if (auto v = st.get_opt_int(16)) g.rts_delay_us = static_cast<int>(*v);
  g.retired = st.get_opt_int(17);
  return g;
}

std::optional<std::string> opt_parity(const Gateway& g) {
  if (!g.parity) return std::nullopt;
  return std::string(1, *g.parity);
}

} // namespace

transport::GatewaySpec Gateway::spec(std::chrono::milliseconds default_timeout) const {
  transport::GatewaySpec s;
  s.name = name;
  s.kind = transport;
  s.address = address;
  if (baud) s.baud = static_cast<unsigned>(*baud);
  if (parity) s.parity = *transport::parse_parity(std::string(1, *parity));
  if (stop_bits) s.stop_bits = static_cast<unsigned>(*stop_bits);
  s.timeout = timeout_ms ? std::chrono::milliseconds(*timeout_ms) : default_timeout;
  s.gap = std::chrono::milliseconds(gap_ms);
  s.protocol = protocol;
  if (rts) s.rts = *rts == "up" ? transport::Rts::up : transport::Rts::down;
  if (rts_delay_us) s.rts_delay = std::chrono::microseconds(*rts_delay_us);
  return s;
}

const char* protocol_name(transport::Protocol p) { return p == transport::Protocol::dlt645 ? "dlt645" : "modbus"; }

namespace {

bool hex8(const std::string& s) {
  if (s.size() != 8) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

} // namespace

void check_name(std::string_view what, std::string_view name) {
  if (name.empty()) fail(Exit::usage, "{} name is empty", what);
  if (name.size() > 64) fail(Exit::usage, "{} name '{}' is longer than 64 characters", what, name);
  if (name.front() == '-') fail(Exit::usage, "{} name '{}' must not start with '-'", what, name);
  for (unsigned char c : name)
    if (c <= ' ' || c == 0x7f) fail(Exit::usage, "{} name '{}' must not contain blanks or control characters", what, name);
}

void validate(Gateway& g) {
  check_name("gateway", g.name);
  const bool dlt645 = g.protocol == transport::Protocol::dlt645;
  if (dlt645 && g.transport == Transport::tcp)
    fail(Exit::usage, "gateway {}: DL/T 645 runs over --dlt645-tcp (a serial server) or --dlt645 (a serial port)", g.name);
  if (!dlt645 && (g.password || g.operator_code))
    fail(Exit::usage, "gateway {}: --password and --operator-code are for DL/T 645 gateways only", g.name);
  if (g.password && !hex8(*g.password))
    fail(Exit::usage, "gateway {}: --password must be 8 hex digits (PA P0 P1 P2), not '{}'", g.name, *g.password);
  if (g.operator_code && !hex8(*g.operator_code))
    fail(Exit::usage, "gateway {}: --operator-code must be 8 hex digits, not '{}'", g.name, *g.operator_code);
  if ((g.transport != Transport::rtu_serial || dlt645) && (g.rts || g.rts_delay_us))
    fail(Exit::usage, "gateway {}: --rts and --rts-delay-us are for Modbus serial gateways (--rtu) only", g.name);
  if (g.rts && *g.rts != "up" && *g.rts != "down")
    fail(Exit::usage, "gateway {}: --rts must be up or down, not '{}'", g.name, *g.rts);
  if (g.rts_delay_us && !g.rts) fail(Exit::usage, "gateway {}: --rts-delay-us needs --rts", g.name);
  if (g.rts_delay_us && (*g.rts_delay_us < 0 || *g.rts_delay_us > 1'000'000))
    fail(Exit::usage, "gateway {}: --rts-delay-us {} is out of range (0..1000000)", g.name, *g.rts_delay_us);
  if (g.transport == Transport::rtu_serial) {
    if (g.address.empty()) fail(Exit::usage, "gateway {}: the serial device is empty", g.name);
    if (!g.baud) g.baud = dlt645 ? 2400 : 9600;
    if (!g.parity) g.parity = dlt645 ? 'E' : 'N';
    if (!g.stop_bits) g.stop_bits = 1;
    if (*g.baud < 50 || *g.baud > 4'000'000) fail(Exit::usage, "gateway {}: baud {} is out of range", g.name, *g.baud);
    if (*g.parity != 'N' && *g.parity != 'E' && *g.parity != 'O')
      fail(Exit::usage, "gateway {}: parity must be N, E or O, not '{}'", g.name, *g.parity);
    if (*g.stop_bits != 1 && *g.stop_bits != 2)
      fail(Exit::usage, "gateway {}: stop bits must be 1 or 2, not {}", g.name, *g.stop_bits);
  } else {
    if (g.baud || g.parity || g.stop_bits)
      fail(Exit::usage, "gateway {}: baud, parity and stop bits are for --rtu gateways only", g.name);
    auto hp = transport::parse_host_port(g.address);
    if (!hp) fail(Exit::usage, "gateway {}: {}", g.name, hp.error().what());
    if (hp->second == 0) fail(Exit::usage, "gateway {}: port 0 in '{}' cannot be connected to", g.name, g.address);
  }
  if (g.timeout_ms && (*g.timeout_ms < 1 || *g.timeout_ms > 60'000))
    fail(Exit::usage, "gateway {}: timeout {} ms is out of range (1..60000)", g.name, *g.timeout_ms);
  if (g.gap_ms < 0 || g.gap_ms > 10'000)
    fail(Exit::usage, "gateway {}: gap {} ms is out of range (0..10000)", g.name, g.gap_ms);
}

Gateway add_gateway(storage::Database& db, Gateway g) {
  validate(g);
  storage::Transaction tx(db);
  g = add_gateway_in(db, std::move(g));
  tx.commit();
  return g;
}

Gateway add_gateway_in(storage::Database& db, Gateway g) {
  validate(g);
  if (find_gateway(db, g.name)) fail(Exit::data, "gateway {} already exists", g.name);
  g.created = now();
  g.status = "unknown";
  g.status_since.reset();
  db.prepare("INSERT INTO gateways(name, transport, address, baud, parity, stop_bits, timeout_ms, gap_ms, created, "
             "protocol, password, operator_code, rts, rts_delay_us) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)")
      .bind_all(g.name, std::string(transport::kind_name(g.transport)), g.address, g.baud, opt_parity(g), g.stop_bits, g.timeout_ms, g.gap_ms,
                g.created, std::string(protocol_name(g.protocol)), g.password, g.operator_code, g.rts, g.rts_delay_us)
      .run();
  g.id = db.last_insert_rowid();
  return g;
}

std::optional<Gateway> find_gateway(storage::Database& db, std::string_view name) {
  // Kept prepared: an import of a site's meters looks up a gateway per row.
  static const std::string sql = fmt::format("SELECT {} FROM gateways WHERE name = ?1", k_columns);
  auto& st = db.cached(sql);
  st.bind(1, name);
  std::optional<Gateway> g;
  if (st.step()) g = row_to_gateway(st);
  st.reset();
  return g;
}

std::optional<Gateway> find_gateway(storage::Database& db, std::int64_t id) {
  auto st = db.prepare(fmt::format("SELECT {} FROM gateways WHERE id = ?1", k_columns));
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return row_to_gateway(st);
}

Gateway get_gateway(storage::Database& db, std::string_view name) {
  auto g = find_gateway(db, name);
  if (!g) fail(Exit::no_input, "no such gateway: {}", name);
  return *g;
}

Gateway get_gateway(storage::Database& db, std::int64_t id) {
  auto g = find_gateway(db, id);
  if (!g) fail(Exit::no_input, "no such gateway id {}", id);
  return *g;
}

std::vector<Gateway> list_gateways(storage::Database& db) {
  std::vector<Gateway> out;
  auto st = db.prepare(fmt::format("SELECT {} FROM gateways ORDER BY name", k_columns));
  while (st.step()) out.push_back(row_to_gateway(st));
  return out;
}

void update_gateway(storage::Database& db, Gateway g) {
  validate(g);
  storage::Transaction tx(db);
  update_gateway_in(db, std::move(g));
  tx.commit();
}

void update_gateway_in(storage::Database& db, Gateway g) {
  validate(g);
  auto other = find_gateway(db, g.name);
  if (other && other->id != g.id) fail(Exit::data, "gateway {} already exists", g.name);
  db.prepare("UPDATE gateways SET name = ?2, transport = ?3, address = ?4, baud = ?5, parity = ?6, stop_bits = ?7, "
             "timeout_ms = ?8, gap_ms = ?9, protocol = ?10, password = ?11, operator_code = ?12, rts = ?13, "
             "rts_delay_us = ?14 WHERE id = ?1")
      .bind_all(g.id, g.name, std::string(transport::kind_name(g.transport)), g.address, g.baud, opt_parity(g), g.stop_bits, g.timeout_ms,
                g.gap_ms, std::string(protocol_name(g.protocol)), g.password, g.operator_code, g.rts, g.rts_delay_us)
      .run();
  if (db.changes() == 0) fail(Exit::no_input, "no such gateway: {}", g.name);
}

std::vector<std::string> meters_on_gateway(storage::Database& db, std::int64_t gateway_id) {
  std::vector<std::string> names;
  auto st = db.prepare("SELECT name FROM meters WHERE gateway_id = ?1 AND removed IS NULL ORDER BY name");
  st.bind(1, gateway_id);
  while (st.step()) names.push_back(st.get_text(0));
  return names;
}

namespace {

std::string join_limited(const std::vector<std::string>& names, std::size_t limit = 10) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < limit; ++i) {
    if (i) s += ", ";
    s += names[i];
  }
  if (names.size() > limit) s += fmt::format(" and {} more", names.size() - limit);
  return s;
}

} // namespace

Gateway retire_gateway(storage::Database& db, std::string_view name) {
  storage::Transaction tx(db);
  Gateway g = get_gateway(db, name);
  if (g.retired) fail(Exit::data, "gateway {} was retired on {}", g.name, format_time(*g.retired));
  // Meters on open accounts are a tenant's supply: they move or leave their account first.
  std::vector<std::string> assigned;
  {
    auto st = db.prepare("SELECT m.name || ' (account ' || a.name || ')' FROM meters m "
                         "JOIN assignments s ON s.meter_id = m.id AND s.valid_to IS NULL "
                         "JOIN accounts a ON a.id = s.account_id WHERE m.gateway_id = ?1 AND m.removed IS NULL ORDER BY m.name");
    st.bind(1, g.id);
    while (st.step()) assigned.push_back(st.get_text(0));
  }
  if (!assigned.empty())
    fail(Exit::data, "gateway {} still feeds open account{}: {}; detach or move those meters first", g.name,
         assigned.size() == 1 ? "" : "s", join_limited(assigned));
  const UnixTime t = now();
  // Its meters leave service with it (their history stays), and nothing is left to send them.
  db.prepare("UPDATE commands SET state = 'cancelled', finished = ?2, last_error = 'gateway retired' "
             "WHERE state IN ('pending', 'running') AND meter_id IN (SELECT id FROM meters WHERE gateway_id = ?1)")
      .bind_all(g.id, t)
      .run();
  db.prepare("UPDATE meters SET removed = ?2 WHERE gateway_id = ?1 AND removed IS NULL").bind_all(g.id, t).run();
  db.prepare("UPDATE gateways SET retired = ?2 WHERE id = ?1").bind_all(g.id, t).run();
  tx.commit();
  g.retired = t;
  return g;
}

void remove_gateway(storage::Database& db, std::string_view name) {
  storage::Transaction tx(db);
  Gateway g = get_gateway(db, name);
  auto in_service = meters_on_gateway(db, g.id);
  if (!in_service.empty())
    fail(Exit::data, "gateway {} still has {} meter{}: {}; remove or move them first, or retire it with them (kwh gateway "
                     "retire {})",
         g.name, in_service.size(), in_service.size() == 1 ? "" : "s", join_limited(in_service), g.name);
  // Removed meters and events keep their gateway for history; such a gateway stays, unused.
  std::vector<std::string> removed;
  {
    auto st = db.prepare("SELECT name FROM meters WHERE gateway_id = ?1 ORDER BY name");
    st.bind(1, g.id);
    while (st.step()) removed.push_back(st.get_text(0));
  }
  if (!removed.empty())
    fail(Exit::data, "gateway {} keeps the history of removed meter{} {}; retire it instead (kwh gateway retire {})",
         g.name, removed.size() == 1 ? "" : "s", join_limited(removed), g.name);
  auto ev = db.prepare("SELECT count(*) FROM events WHERE gateway_id = ?1");
  ev.bind(1, g.id);
  ev.step();
  if (auto n = ev.get_int(0); n > 0)
    fail(Exit::data, "gateway {} has {} event{} in its history; retire it instead (kwh gateway retire {})", g.name, n,
         n == 1 ? "" : "s", g.name);
  db.prepare("DELETE FROM gateways WHERE id = ?1").bind(1, g.id).run();
  tx.commit();
}

} // namespace kwh::site
