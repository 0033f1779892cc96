#include <kwh/site/meter.hpp>

#include <fmt/format.h>

#include <filesystem>
#include <map>

namespace kwh::site {

namespace {

constexpr const char* k_select =
    "SELECT m.id, m.name, m.gateway_id, g.name, m.unit, m.profile, m.kind, m.building, m.room, m.relay_mode, "
    "m.relay_state, m.relay_reason, m.overload_w, m.max_power_w, m.status, m.status_since, m.failed_polls, "
    "m.removed, m.created, m.address, m.device FROM meters m JOIN gateways g ON g.id = m.gateway_id";

Meter row_to_meter(const storage::Statement& st) {
  Meter m;
  m.id = st.get_int(0);
  m.name = st.get_text(1);
  m.gateway_id = st.get_int(2);
  m.gateway = st.get_text(3);
  m.unit = static_cast<int>(st.get_int(4));
  m.profile = st.get_text(5);
  m.kind = st.get_text(6);
  m.building = st.get_opt_text(7);
  m.room = st.get_opt_text(8);
  m.relay_mode = parse_relay_mode(st.get_text(9)).value_or(RelayMode::automatic);
  m.relay_state = st.get_text(10);
  m.relay_reason = st.get_opt_text(11);
  m.overload_w = st.get_opt_int(12);
  m.max_power_w = st.get_opt_int(13);
  m.status = st.get_text(14);
  m.status_since = st.get_opt_int(15);
  m.failed_polls = static_cast<int>(st.get_int(16));
  m.removed = st.get_opt_int(17);
  m.created = st.get_int(18);
  m.address = st.get_opt_text(19);
  m.device = st.get_opt_text(20);
  return m;
}

bool is_path(std::string_view s) {
  return s.find('/') != std::string_view::npos || (s.size() > 5 && s.substr(s.size() - 5) == ".toml");
}

void check_unit(int unit) {
  if (unit < 1 || unit > 247) fail(Exit::usage, "unit {} is out of range (1..247)", unit);
}

void check_kind(const std::string& kind) {
  if (kind != "electricity" && kind != "water")
    fail(Exit::usage, "kind must be electricity or water, not '{}'", kind);
}

void check_text(std::string_view what, const std::optional<std::string>& v) {
  if (!v) return;
  if (v->size() > 200) fail(Exit::usage, "{} is longer than 200 characters", what);
  for (unsigned char c : *v)
    if (c < ' ' || c == 0x7f) fail(Exit::usage, "{} must not contain control characters", what);
}

void check_overload(const std::optional<std::int64_t>& w, bool allow_zero) {
  if (w && (*w < (allow_zero ? 0 : 1) || *w > 100'000'000))
    fail(Exit::usage, "overload {} W is out of range (1..100000000)", *w);
}

// How many unit addresses a stored meter's profile occupies: 1 when the profile cannot be
// loaded any more (neither found nor stored), as a meter is read with none.
int stored_units(storage::Database& db, const std::string& profile, const std::vector<std::string>& folders) {
  try {
    return modbus::find_profile(profile, folders).units;
  } catch (const Error&) {
  }
  try {
    auto st = db.prepare("SELECT body FROM profiles WHERE name = ?1 OR source = ?1 ORDER BY name = ?1 DESC");
    st.bind(1, profile);
    if (st.step()) return modbus::parse_profile(st.get_text(0), profile).units;
  } catch (const Error&) {
  }
  return 1;
}

// Checks that units [unit, unit + units) on the bus are free: no other in-service Modbus meter
// answers on them or occupies them (a three-phase ADF400L circuit holds three).
void check_units_free(storage::Database& db, std::int64_t gateway_id, const std::string& gateway, int unit, int units,
                      std::int64_t except_id, ProfileCache& profiles) {
  if (unit + units - 1 > 247)
    fail(Exit::data, "{} on gateway {}: a meter of this profile takes {} units, past 247", units_text(unit, units), gateway,
         units);
  // Only a meter starting up to k_max_units - 1 below can reach this range.
  auto& st = db.cached("SELECT name, unit, profile FROM meters WHERE gateway_id = ?1 AND removed IS NULL AND "
                       "address IS NULL AND id <> ?2 AND unit BETWEEN ?3 AND ?4 ORDER BY unit");
  st.bind_all(gateway_id, except_id, unit - (modbus::k_max_units - 1), unit + units - 1);
  struct Other {
    std::string name, profile;
    int unit;
  };
  std::vector<Other> others;
  while (st.step()) others.push_back({st.get_text(0), st.get_text(2), static_cast<int>(st.get_int(1))});
  st.reset();
  for (const auto& o : others) {
    const int other_units = profiles.units(db, o.profile);
    if (!units_overlap(unit, units, o.unit, other_units)) continue;
    fail(Exit::data, "{} on gateway {} {} meter {}{}", units_text(unit, units), gateway,
         units > 1 ? "overlap" : "is already", o.name,
         other_units > 1 ? fmt::format(" ({})", units_text(o.unit, other_units)) : std::string());
  }
}

// Keeps the profile's text with the meters that use it.
void store_profile(storage::Database& db, const modbus::Profile& p) {
  std::string source = p.source.rfind("builtin:", 0) == 0 ? "builtin" : p.source;
  auto& st = db.cached("INSERT INTO profiles(name, source, body, updated) VALUES (?1, ?2, ?3, ?4) "
                       "ON CONFLICT(name) DO UPDATE SET source = excluded.source, body = excluded.body, "
                       "updated = excluded.updated WHERE body <> excluded.body OR source <> excluded.source");
  st.bind_all(p.name, source, p.text, now());
  st.run();
}

std::string kind_for(const modbus::Profile& p, const std::optional<std::string>& kind, std::string_view profile_name) {
  if (!kind) return p.kind;
  check_kind(*kind);
  if (*kind != p.kind)
    fail(Exit::data, "profile {} is for {} meters, not {}", profile_name, p.kind, *kind);
  return *kind;
}

std::optional<std::string> blank_to_null(const std::optional<std::string>& v) {
  if (v && v->empty()) return std::nullopt;
  return v;
}

} // namespace

// What meters.profile records: the name for built-ins and profiles found in the folders; the
// absolute path for a file named on the command line, so that later runs find it from anywhere.
std::string profile_reference(std::string_view name_or_path, const modbus::Profile& p) {
  if (!is_path(name_or_path)) return p.name;
  std::error_code ec;
  auto abs = std::filesystem::absolute(std::filesystem::path(name_or_path), ec);
  return ec ? std::string(name_or_path) : abs.lexically_normal().string();
}

const modbus::Profile& ProfileCache::load(std::string_view name_or_path) {
  if (auto it = m_loaded.find(name_or_path); it != m_loaded.end()) return it->second;
  return m_loaded.emplace(std::string(name_or_path), load_profile(name_or_path, m_folders)).first->second;
}

int ProfileCache::units(storage::Database& db, const std::string& profile) {
  if (auto it = m_units.find(profile); it != m_units.end()) return it->second;
  return m_units.emplace(profile, stored_units(db, profile, m_folders)).first->second;
}

bool units_overlap(int a, int a_units, int b, int b_units) { return a < b + b_units && b < a + a_units; }

std::string units_text(int unit, int units) {
  return units > 1 ? fmt::format("units {}..{}", unit, unit + units - 1) : fmt::format("unit {}", unit);
}

std::string_view to_string(RelayMode m) {
  switch (m) {
  case RelayMode::automatic: return "auto";
  case RelayMode::protect: return "protect";
  case RelayMode::off: return "off";
  }
  return "auto";
}

std::optional<RelayMode> parse_relay_mode(std::string_view s) {
  if (s == "auto") return RelayMode::automatic;
  if (s == "protect") return RelayMode::protect;
  if (s == "off") return RelayMode::off;
  return std::nullopt;
}

modbus::Profile load_profile(std::string_view name_or_path, const std::vector<std::string>& folders) {
  if (name_or_path.empty()) fail(Exit::usage, "the profile name is empty");
  return modbus::find_profile(name_or_path, folders);
}

modbus::Profile meter_profile(storage::Database& db, const Meter& m, const std::vector<std::string>& folders) {
  try {
    return load_profile(m.profile, folders);
  } catch (const Error& e) {
    if (e.code() != Exit::no_input) throw;
    auto st = db.prepare("SELECT body, source FROM profiles WHERE name = ?1 OR source = ?1 ORDER BY name = ?1 DESC");
    st.bind(1, m.profile);
    if (!st.step()) throw;
    return modbus::parse_profile(st.get_text(0), fmt::format("{} (stored copy)", m.profile));
  }
}

namespace {

void check_device(const std::string& device) { check_name("device", device); }

void check_address(std::string_view address) {
  bool digits = address.size() == 12;
  for (char c : address) digits = digits && c >= '0' && c <= '9';
  if (!digits) fail(Exit::usage, "--address must be the meter's 12-digit DL/T 645 address, not '{}'", address);
}

std::optional<std::string> address_taken(storage::Database& db, std::int64_t gateway_id, const std::string& address) {
  auto& st = db.cached("SELECT name FROM meters WHERE gateway_id = ?1 AND address = ?2 AND removed IS NULL");
  st.bind_all(gateway_id, address);
  std::optional<std::string> name;
  if (st.step()) name = st.get_text(0);
  st.reset();
  return name;
}

// The checks of a new meter's own fields, before anything is looked up.
void check_spec(const MeterSpec& spec) {
  check_name("meter", spec.name);
  if (spec.address) check_address(*spec.address);
  else check_unit(spec.unit);
  check_text("building", spec.building);
  check_text("room", spec.room);
  check_overload(spec.overload_w, false);
  if (spec.kind) check_kind(*spec.kind);
  if (spec.device) check_device(*spec.device);
}

} // namespace

Meter add_meter(storage::Database& db, const MeterSpec& spec, const std::vector<std::string>& profile_folders) {
  check_spec(spec);
  ProfileCache profiles(profile_folders);
  profiles.load(spec.profile);
  storage::Transaction tx(db);
  Meter m = add_meter_in(db, spec, profiles);
  tx.commit();
  return m;
}

Meter add_meter_in(storage::Database& db, const MeterSpec& spec, ProfileCache& profiles) {
  check_spec(spec);
  const modbus::Profile& profile = profiles.load(spec.profile);
  Gateway g = get_gateway(db, spec.gateway);
  if (g.retired) fail(Exit::data, "gateway {} is retired; choose another", g.name);
  if (auto existing = find_meter(db, spec.name)) {
    if (existing->removed)
      fail(Exit::data, "meter {} was removed on {}; its ID stays with its history, choose another", spec.name,
           format_time(*existing->removed));
    fail(Exit::data, "meter {} already exists", spec.name);
  }
  const bool dlt645 = g.protocol == transport::Protocol::dlt645;
  if (dlt645 && !spec.address)
    fail(Exit::usage, "meter {}: gateway {} speaks DL/T 645: give the meter's --address (12 digits)", spec.name, g.name);
  if (!dlt645 && spec.address)
    fail(Exit::usage, "meter {}: --address is for meters on DL/T 645 gateways; gateway {} speaks Modbus (--unit)",
         spec.name, g.name);
  if (dlt645 && spec.unit != 0) fail(Exit::usage, "meter {}: a DL/T 645 meter has an --address, not a --unit", spec.name);
  if (dlt645 && spec.device)
    fail(Exit::usage, "meter {}: --device is for circuits of a Modbus multi-user meter; gateway {} speaks DL/T 645",
         spec.name, g.name);
  if ((profile.protocol == "dlt645") != dlt645)
    fail(Exit::usage, "meter {}: profile {} is for {} meters, but gateway {} speaks {}", spec.name, profile.name,
         profile.protocol == "dlt645" ? "DL/T 645" : "Modbus", g.name, dlt645 ? "DL/T 645" : "Modbus");
  if (dlt645) {
    if (auto other = address_taken(db, g.id, *spec.address))
      fail(Exit::data, "address {} on gateway {} is already meter {}", *spec.address, g.name, *other);
  } else {
    check_units_free(db, g.id, g.name, spec.unit, profile.units, 0, profiles);
  }

  Meter m;
  m.name = spec.name;
  m.gateway_id = g.id;
  m.gateway = g.name;
  m.unit = dlt645 ? 1 : spec.unit;
  m.address = spec.address;
  m.device = spec.device;
  m.profile = profile_reference(spec.profile, profile);
  m.kind = kind_for(profile, spec.kind, spec.profile);
  m.building = blank_to_null(spec.building);
  m.room = blank_to_null(spec.room);
  m.relay_mode = spec.relay_mode;
  m.overload_w = spec.overload_w;
  m.created = now();
  store_profile(db, profile);
  auto& ins = db.cached("INSERT INTO meters(name, gateway_id, unit, profile, kind, building, room, relay_mode, "
                        "overload_w, created, address, device) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
  ins.bind_all(m.name, m.gateway_id, m.unit, m.profile, m.kind, m.building, m.room, to_string(m.relay_mode),
               m.overload_w, m.created, m.address, m.device);
  ins.run();
  m.id = db.last_insert_rowid();
  return m;
}

std::optional<Meter> find_meter(storage::Database& db, std::string_view name) {
  // Kept prepared: an import looks up a meter per row.
  static const std::string sql = fmt::format("{} WHERE m.name = ?1", k_select);
  auto& st = db.cached(sql);
  st.bind(1, name);
  std::optional<Meter> m;
  if (st.step()) m = row_to_meter(st);
  st.reset();
  return m;
}

std::optional<Meter> find_meter(storage::Database& db, std::int64_t id) {
  auto st = db.prepare(fmt::format("{} WHERE m.id = ?1", k_select));
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return row_to_meter(st);
}

Meter get_meter(storage::Database& db, std::string_view name) {
  auto m = find_meter(db, name);
  if (!m) fail(Exit::no_input, "no such meter: {}", name);
  return *m;
}

Meter get_meter_in_service(storage::Database& db, std::string_view name) {
  Meter m = get_meter(db, name);
  if (m.removed) fail(Exit::data, "meter {} was removed on {}", m.name, format_time(*m.removed));
  return m;
}

std::vector<Meter> list_meters(storage::Database& db, const MeterFilter& f) {
  std::optional<std::int64_t> gateway_id;
  if (f.gateway) gateway_id = get_gateway(db, *f.gateway).id;
  if (f.status && *f.status != "online" && *f.status != "offline" && *f.status != "unknown")
    fail(Exit::usage, "status must be online, offline or unknown, not '{}'", *f.status);
  std::string sql = fmt::format(
      "{} WHERE (?1 IS NULL OR m.status = ?1) AND (?2 IS NULL OR m.gateway_id = ?2) AND (?3 IS NULL OR m.building = ?3) "
      "AND (?4 OR m.removed IS NULL) AND (?5 IS NULL OR m.id IN (SELECT s.meter_id FROM assignments s JOIN accounts a "
      "ON a.id = s.account_id WHERE a.name = ?5 AND s.valid_to IS NULL)) ORDER BY m.name",
      k_select);
  auto st = db.prepare(sql);
  st.bind_all(f.status, gateway_id, f.building, f.include_removed ? 1 : 0, f.account);
  std::vector<Meter> out;
  while (st.step()) out.push_back(row_to_meter(st));
  return out;
}

namespace {

void check_change(const MeterChange& c) {
  if (c.unit) check_unit(*c.unit);
  if (c.address) check_address(*c.address);
  if (c.kind) check_kind(*c.kind);
  if (c.device) check_device(*c.device);
  check_text("building", c.building);
  check_text("room", c.room);
  check_overload(c.overload_w, true);
}

} // namespace

Meter update_meter(storage::Database& db, std::string_view name, const MeterChange& c,
                   const std::vector<std::string>& profile_folders) {
  check_change(c);
  ProfileCache profiles(profile_folders);
  if (c.profile) profiles.load(*c.profile);
  storage::Transaction tx(db);
  Meter m = update_meter_in(db, name, c, profiles);
  tx.commit();
  return m;
}

Meter update_meter_in(storage::Database& db, std::string_view name, const MeterChange& c, ProfileCache& profiles) {
  check_change(c);
  const modbus::Profile* profile = c.profile ? &profiles.load(*c.profile) : nullptr;
  Meter m = get_meter_in_service(db, name);
  if (c.gateway) {
    Gateway g = get_gateway(db, *c.gateway);
    if (g.retired) fail(Exit::data, "gateway {} is retired; choose another", g.name);
    m.gateway_id = g.id;
    m.gateway = g.name;
  }
  {
    const bool dlt645 = get_gateway(db, m.gateway_id).protocol == transport::Protocol::dlt645;
    if (dlt645 != m.address.has_value())
      fail(Exit::usage, "meter {}: a {} meter cannot move to a gateway that speaks {}; add it anew", m.name,
           m.address ? "DL/T 645" : "Modbus", dlt645 ? "DL/T 645" : "Modbus");
    if (dlt645 && c.unit) fail(Exit::usage, "meter {}: a DL/T 645 meter has an address, not a unit", m.name);
    if (!dlt645 && c.address) fail(Exit::usage, "meter {}: a Modbus meter has a unit, not an address", m.name);
    if (dlt645 && c.device)
      fail(Exit::usage, "meter {}: --device is for circuits of a Modbus multi-user meter, not DL/T 645 meters", m.name);
    if (c.address) m.address = c.address;
    if (dlt645 && (c.gateway || c.address)) {
      if (auto other = address_taken(db, m.gateway_id, *m.address); other && *other != m.name)
        fail(Exit::data, "address {} on gateway {} is already meter {}", *m.address, m.gateway, *other);
    }
    if (profile && (profile->protocol == "dlt645") != dlt645)
      fail(Exit::usage, "meter {}: profile {} is for {} meters", m.name, profile->name,
           profile->protocol == "dlt645" ? "DL/T 645" : "Modbus");
  }
  if (c.unit) m.unit = *c.unit;
  if (!m.address) {
    const int units = profile ? profile->units : profiles.units(db, m.profile);
    check_units_free(db, m.gateway_id, m.gateway, m.unit, units, m.id, profiles);
  }
  if (c.no_device) m.device.reset();
  if (c.device) m.device = c.device;
  if (profile) {
    m.profile = profile_reference(*c.profile, *profile);
    m.kind = kind_for(*profile, c.kind, *c.profile);
    store_profile(db, *profile);
  } else if (c.kind && *c.kind != m.kind) {
    fail(Exit::data, "meter {} has profile {} for {} meters; give a --profile for {}", m.name, m.profile, m.kind, *c.kind);
  }
  if (c.building) m.building = blank_to_null(c.building);
  if (c.room) m.room = blank_to_null(c.room);
  if (c.relay_mode) m.relay_mode = *c.relay_mode;
  if (c.overload_w) m.overload_w = *c.overload_w == 0 ? std::nullopt : c.overload_w;
  db.prepare("UPDATE meters SET gateway_id = ?2, unit = ?3, profile = ?4, kind = ?5, building = ?6, room = ?7, "
             "relay_mode = ?8, overload_w = ?9, address = ?10, device = ?11 WHERE id = ?1")
      .bind_all(m.id, m.gateway_id, m.unit, m.profile, m.kind, m.building, m.room, to_string(m.relay_mode),
                m.overload_w, m.address, m.device)
      .run();
  return m;
}

void set_relay_mode_in(storage::Database& db, const std::vector<std::int64_t>& meter_ids, RelayMode mode) {
  auto st = db.prepare("UPDATE meters SET relay_mode = ?2 WHERE id = ?1 AND removed IS NULL");
  for (auto id : meter_ids) {
    st.reset();
    st.bind_all(id, to_string(mode));
    st.run();
    if (db.changes() == 0) fail(Exit::data, "meter with id {} is removed or missing", id);
  }
}

void set_relay_mode(storage::Database& db, const std::vector<std::int64_t>& meter_ids, RelayMode mode) {
  storage::Transaction tx(db);
  set_relay_mode_in(db, meter_ids, mode);
  tx.commit();
}

std::optional<std::string> open_account(storage::Database& db, std::int64_t meter_id) {
  auto st = db.prepare("SELECT a.name FROM assignments s JOIN accounts a ON a.id = s.account_id "
                       "WHERE s.meter_id = ?1 AND s.valid_to IS NULL");
  st.bind(1, meter_id);
  if (!st.step()) return std::nullopt;
  return st.get_text(0);
}

Removal remove_meter(storage::Database& db, std::string_view name) {
  storage::Transaction tx(db);
  Meter m = get_meter_in_service(db, name);
  if (auto account = open_account(db, m.id))
    fail(Exit::data, "meter {} belongs to open account {}; detach it first (kwh account detach {} {})", m.name,
         *account, *account, m.name);
  // Everything that refers to a meter is its history.
  auto st = db.prepare(
      "SELECT EXISTS(SELECT 1 FROM readings WHERE meter_id = ?1) OR "
      "EXISTS(SELECT 1 FROM reading_blocks WHERE meter_id = ?1) OR EXISTS(SELECT 1 FROM held_readings WHERE meter_id = ?1) "
      "OR EXISTS(SELECT 1 FROM assignments WHERE meter_id = ?1) OR EXISTS(SELECT 1 FROM ledger WHERE meter_id = ?1) "
      "OR EXISTS(SELECT 1 FROM daily_usage WHERE meter_id = ?1) OR EXISTS(SELECT 1 FROM events WHERE meter_id = ?1) "
      "OR EXISTS(SELECT 1 FROM commands WHERE meter_id = ?1) OR EXISTS(SELECT 1 FROM meter_values WHERE meter_id = ?1)");
  st.bind(1, m.id);
  st.step();
  Removal result;
  if (st.get_int(0)) {
    db.prepare("UPDATE meters SET removed = ?2 WHERE id = ?1").bind_all(m.id, now()).run();
    // A removed meter is switched by nobody.
    db.prepare("UPDATE commands SET state = 'cancelled', finished = ?2, last_error = 'meter removed' "
               "WHERE meter_id = ?1 AND state = 'pending'")
        .bind_all(m.id, now())
        .run();
    result = Removal::marked_removed;
  } else {
    db.prepare("DELETE FROM meters WHERE id = ?1").bind(1, m.id).run();
    result = Removal::deleted;
  }
  tx.commit();
  return result;
}

} // namespace kwh::site
