// report readings: the latest electrical values of each meter (meter_values), and with --raw
// every stored reading of the period, streamed meter by meter along the readings' primary key.

#include <kwh/report/report.hpp>

#include <kwh/readings/store.hpp>

#include <cmath>

namespace kwh::report {

using output::Column;
using output::Json;
using output::Kind;
using output::Table;

namespace {

// The well-known values shown, in column order (kwh-profile(5)); a value the meter's
// profile does not read is empty, never zero.
struct Shown {
  const char* column;
  const char* value;
};
constexpr Shown k_values[] = {
    {"power_w", "power_total"},   {"voltage_a", "voltage_a"}, {"voltage_b", "voltage_b"},
    {"voltage_c", "voltage_c"},   {"current_a", "current_a"}, {"current_b", "current_b"},
    {"current_c", "current_c"},   {"frequency", "frequency"}, {"pf", "power_factor"},
};

} // namespace

Table latest_readings(storage::Database& db, const Request&) {
  Table t;
  t.columns = {Column{"time", Kind::time}, Column{"meter"}, Column{"energy_kwh", Kind::real},
               Column{"volume_m3", Kind::real}};
  std::string sql = "SELECT mv.t, m.name, m.kind, json_extract(mv.\"values\", '$.energy_total'), "
                    "json_extract(mv.\"values\", '$.volume_total')";
  for (const auto& v : k_values) {
    t.columns.push_back(Column{v.column, Kind::real});
    sql += fmt::format(", json_extract(mv.\"values\", '$.{}')", v.value);
  }
  sql += " FROM meter_values mv JOIN meters m ON m.id = mv.meter_id WHERE m.removed IS NULL ORDER BY m.name";
  auto st = db.prepare(sql);
  auto total = [&](int col) {
    auto v = st.get_opt_double(col);
    return v ? Json(thousandths(std::llround(*v))) : Json();
  };
  while (st.step()) {
    std::vector<Json> row{format_time(st.get_int(0)), st.get_text(1), total(3), total(4)};
    for (std::size_t i = 0; i < std::size(k_values); ++i) {
      auto v = st.get_opt_double(static_cast<int>(5 + i));
      if (v) row.emplace_back(*v);
      else row.emplace_back();
    }
    t.add(std::move(row));
  }
  return t;
}

std::vector<Column> raw_reading_columns() {
  return {Column{"meter"},
          Column{"time", Kind::time},
          Column{"energy_wh", Kind::integer},
          Column{"volume_l", Kind::integer},
          Column{"sharp_wh", Kind::integer},
          Column{"peak_wh", Kind::integer},
          Column{"flat_wh", Kind::integer},
          Column{"valley_wh", Kind::integer},
          Column{"power_w", Kind::integer}};
}

void for_each_raw_reading(storage::Database& db, const Request& r,
                          const std::function<void(std::vector<Json>&&)>& row) {
  auto meters = db.prepare("SELECT id, name, kind = 'water' FROM meters WHERE (?1 IS NULL OR name = ?1) ORDER BY name");
  if (r.options.meter) {
    auto check = db.prepare("SELECT 1 FROM meters WHERE name = ?");
    check.bind_all(*r.options.meter);
    if (!check.step()) fail(Exit::no_input, "no such meter: {}", *r.options.meter);
    meters.bind(1, *r.options.meter);
  } else {
    meters.bind_null(1);
  }
  // Both tiers of readings/store.hpp: the period's recent rows read once, each meter's blocks.
  readings::RecentRows recent(db, r.period.from, r.period.to);
  auto opt = [](const std::optional<std::int64_t>& v) { return v ? Json(*v) : Json(); };
  while (meters.step()) {
    const std::string name = meters.get_text(1);
    const bool water = meters.get_int(2) != 0;
    readings::scan(
        db, meters.get_int(0), r.period.from, r.period.to,
        [&](const readings::Reading& x) {
          Json value = x.value;
          row({name, format_time(x.t), water ? Json() : value, water ? value : Json(), opt(x.sharp), opt(x.peak),
               opt(x.flat), opt(x.valley), opt(x.power)});
          return true;
        },
        &recent);
  }
}

} // namespace kwh::report
