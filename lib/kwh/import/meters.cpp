// kwh meter import: a row per meter, its columns the options of `meter add`, with the rules of
// `meter add` for a new meter and of `meter set` for a change (--update).

#include <kwh/import/detail.hpp>

#include <kwh/site/meter.hpp>
#include <kwh/storage/database.hpp>

#include <fmt/format.h>

#include <climits>

namespace kwh::import::detail {

namespace {

enum Col {
  c_id,
  c_gateway,
  c_unit,
  c_address,
  c_device,
  c_profile,
  c_kind,
  c_building,
  c_room,
  c_relay_mode,
  c_overload_w,
  c_status,
  c_relay,
  c_account,
  c_last_reading,
  c_energy_kwh,
  c_volume_m3,
};

int unit_number(std::string_view text) {
  const std::int64_t v = whole_number(text, "unit");
  if (v < INT_MIN || v > INT_MAX) fail(Exit::data, "unit {} is out of range (1..247)", text);
  return static_cast<int>(v);
}

site::RelayMode relay_mode(const Row& row) {
  auto t = row.text(c_relay_mode);
  if (!t) return site::RelayMode::automatic;
  auto m = site::parse_relay_mode(*t);
  if (!m) fail(Exit::data, "relay_mode '{}' is not auto, protect or off", *t);
  return *m;
}

std::optional<std::int64_t> overload(const Row& row) {
  auto t = row.text(c_overload_w);
  if (!t) return std::nullopt;
  return whole_number(*t, "overload_w");
}

void add(Job& job, site::ProfileCache& profiles, const Row& row, const std::string& id) {
  site::MeterSpec spec;
  spec.name = id;
  auto gateway = row.text(c_gateway);
  auto profile = row.text(c_profile);
  auto unit = row.text(c_unit);
  auto address = row.text(c_address);
  if (!gateway || !profile || (!unit && !address))
    fail(Exit::data, "a new meter needs {}", !gateway ? "its gateway" : !profile ? "its profile" : "its unit (Modbus) or address (DL/T 645)");
  if (unit && address) fail(Exit::data, "a meter has a unit (Modbus) or an address (DL/T 645), not both");
  spec.gateway = *gateway;
  spec.profile = *profile;
  if (unit) spec.unit = unit_number(*unit);
  spec.address = address;
  spec.device = row.text(c_device);
  spec.kind = row.text(c_kind);
  spec.building = row.text(c_building);
  spec.room = row.text(c_room);
  spec.relay_mode = relay_mode(row);
  spec.overload_w = overload(row);
  const site::Meter m = site::add_meter_in(job.db, spec, profiles);
  job.done(row.line(), id, Action::add,
           fmt::format("gateway {}, {}, {}", m.gateway, m.address ? "address " + *m.address : fmt::format("unit {}", m.unit),
                       m.profile));
}

void update(Job& job, site::ProfileCache& profiles, const Row& row, const site::Meter& m) {
  // Only the columns the file has, as `meter set` changes only the options it is given. A
  // gateway, unit, address or profile cannot be none: an empty one is left as it is.
  site::MeterChange c;
  std::vector<std::string> changes;
  auto note = [&](const char* what, const std::string& from, const std::string& to) {
    changes.push_back(fmt::format("{} {} -> {}", what, from, to));
  };
  if (auto g = row.text(c_gateway); g && *g != m.gateway) {
    note("gateway", m.gateway, *g);
    c.gateway = *g;
  }
  if (auto u = row.text(c_unit)) {
    const int unit = unit_number(*u);
    if (m.address || unit != m.unit) {
      note("unit", m.address ? std::string("(none)") : std::to_string(m.unit), *u);
      c.unit = unit;
    }
  }
  if (auto a = row.text(c_address); a && a != m.address) {
    note("address", shown(m.address), *a);
    c.address = *a;
  }
  if (row.has(c_device)) {
    auto d = row.text(c_device);
    if (d != m.device) {
      note("device", shown(m.device), shown(d));
      if (d) c.device = d;
      else c.no_device = true;
    }
  }
  if (auto p = row.text(c_profile)) {
    const auto& profile = profiles.load(*p);
    if (const auto ref = site::profile_reference(*p, profile); ref != m.profile) {
      note("profile", m.profile, ref);
      c.profile = *p;
    }
  }
  if (auto k = row.text(c_kind); k && *k != m.kind) {
    note("kind", m.kind, *k);
    c.kind = *k;
    if (!c.profile && row.text(c_profile)) c.profile = row.text(c_profile); // a kind goes with its profile
  }
  for (const auto& [col, what, stored] : {std::tuple{c_building, "building", &m.building}, std::tuple{c_room, "room", &m.room}}) {
    if (!row.has(col)) continue;
    auto v = row.text(col);
    if (v == *stored) continue;
    note(what, shown(*stored), shown(v));
    (col == c_building ? c.building : c.room) = v.value_or(""); // "" clears it, as with meter set
  }
  if (row.has(c_relay_mode)) {
    const auto mode = relay_mode(row);
    if (mode != m.relay_mode) {
      note("relay_mode", std::string(site::to_string(m.relay_mode)), std::string(site::to_string(mode)));
      c.relay_mode = mode;
    }
  }
  if (row.has(c_overload_w)) {
    const auto w = overload(row);
    if (w && *w <= 0) fail(Exit::data, "overload_w {} is out of range (1..100000000; empty for none)", *w);
    if (w != m.overload_w) {
      note("overload_w", shown(m.overload_w), shown(w));
      c.overload_w = w.value_or(0); // 0 clears it, as with meter set
    }
  }
  job.changed(row.line(), "meter", m.name, changes, [&] { site::update_meter_in(job.db, m.name, c, profiles); });
}

} // namespace

const std::vector<ColumnSpec>& meter_columns() {
  static const std::vector<ColumnSpec> k = {
      {"id", "meter"},           {"gateway"},         {"unit"},          {"address"},          {"device"},
      {"profile"},               {"kind"},            {"building"},      {"room"},             {"relay_mode"},
      {"overload_w"},            {"status", "", true}, {"relay", "", true}, {"account", "", true},
      {"last_reading", "", true}, {"energy_kwh", "", true}, {"volume_m3", "", true},
  };
  return k;
}

void import_meters(Job& job, const Header& header, const std::vector<CsvRecord>& records) {
  site::ProfileCache profiles(job.config.profiles);
  for_each_row(job, Kind::meters, header, records, [&](const Row& row, const std::string& id) {
    auto m = site::find_meter(job.db, id);
    if (m && m->removed)
      fail(Exit::data, "meter {} was removed on {}; its ID stays with its history, choose another", id,
           format_time(*m->removed));
    if (m) update(job, profiles, row, *m);
    else add(job, profiles, row, id);
  });
}

} // namespace kwh::import::detail
