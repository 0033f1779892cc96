#include <kwh/billing/import.hpp>

#include <kwh/billing/biller.hpp>
#include <kwh/readings/store.hpp>
#include <kwh/storage/database.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

namespace kwh::billing {

namespace {

// Splits a CSV line; double quotes around a field are allowed ("" inside is one quote).
std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  for (auto& f : out) {
    auto b = f.find_first_not_of(" \t");
    auto e = f.find_last_not_of(" \t\r");
    f = b == std::string::npos ? std::string() : f.substr(b, e - b + 1);
  }
  return out;
}

std::optional<std::int64_t> parse_int(const std::string& s, bool allow_fraction) {
  if (s.empty()) return std::nullopt;
  std::size_t i = 0;
  std::int64_t v = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (v > (INT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  if (i == 0) return std::nullopt;
  if (i < s.size() && allow_fraction && s[i] == '.') {
    ++i;
    std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  return v;
}

enum class Column { meter, time, energy_total, volume_total, sharp, peak, flat, valley, power };

struct Row {
  int line = 0;
  Reading r;
};

struct ImportMeter {
  std::int64_t id = 0;
  std::string name;
  bool water = false;
};

// A bulk import touches every meter's readings, ledger and usage pages over and over; SQLite's
// default page cache (2 MB) would read most of them from the file again each time. Restored
// afterwards: the connection may live on (a test, kwhd).
class BulkCache {
public:
  explicit BulkCache(storage::Database& db) : m_db(db) {
    auto st = db.prepare("PRAGMA cache_size");
    st.step();
    m_before = st.get_int(0);
    db.exec("PRAGMA cache_size = -262144");
  }
  ~BulkCache() {
    try {
      m_db.exec("PRAGMA cache_size = " + std::to_string(m_before));
    } catch (...) {
    }
  }

private:
  storage::Database& m_db;
  std::int64_t m_before = 0;
};

} // namespace

ImportSummary import_readings(storage::Database& db, const config::Config& config, std::istream& in,
                              const std::string& source, std::function<std::int64_t()> clock,
                              const ImportProgressFn& progress) {
  constexpr std::uint64_t k_progress_every = 4096;
  auto report = [&](ImportProgress::Phase phase, std::uint64_t done, std::uint64_t total) {
    if (progress && (done % k_progress_every == 0 || done == total)) progress({phase, done, total});
  };
  std::string line;
  if (!std::getline(in, line)) fail(Exit::data, "{}: empty file; expected a header meter,time,energy_total", source);
  static const std::map<std::string, Column> k_names = {
      {"meter", Column::meter},         {"time", Column::time},          {"energy_total", Column::energy_total},
      {"volume_total", Column::volume_total}, {"energy_sharp", Column::sharp}, {"energy_peak", Column::peak},
      {"energy_flat", Column::flat},    {"energy_valley", Column::valley}, {"power_total", Column::power}};
  std::vector<Column> columns;
  {
    auto header = split_csv(line);
    if (header.size() < 3 || header[0] != "meter" || header[1] != "time")
      fail(Exit::data, "{}:1: the header must start with meter,time and name the values (energy_total, ...)", source);
    for (const auto& h : header) {
      auto it = k_names.find(h);
      if (it == k_names.end())
        fail(Exit::data, "{}:1: unknown column '{}' (energy_total, volume_total, energy_sharp, energy_peak, "
                         "energy_flat, energy_valley, power_total)",
             source, h);
      if (std::find(columns.begin(), columns.end(), it->second) != columns.end())
        fail(Exit::data, "{}:1: column '{}' appears twice", source, h);
      columns.push_back(it->second);
    }
  }

  std::vector<std::pair<int, std::string>> errors;
  std::vector<Row> rows;
  std::vector<ImportMeter> meters;               // in the order first seen
  std::map<std::string, std::size_t, std::less<>> by_name; // -> index in meters
  std::map<std::int64_t, std::size_t> by_id;
  int line_no = 1;
  ImportSummary summary;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++summary.lines;
    report(ImportProgress::Phase::reading, static_cast<std::uint64_t>(summary.lines), 0);
    auto fields = split_csv(line);
    auto bad = [&](std::string why) { errors.push_back({line_no, std::move(why)}); };
    if (fields.size() != columns.size()) {
      bad(fmt::format("{} fields, expected {}", fields.size(), columns.size()));
      continue;
    }
    Row row;
    row.line = line_no;
    row.r.imported = true;
    std::string_view meter_name;
    std::optional<std::int64_t> energy, volume;
    bool ok = true;
    for (std::size_t i = 0; i < columns.size() && ok; ++i) {
      const std::string& f = fields[i];
      auto number = [&](const char* name, bool fraction) -> std::optional<std::int64_t> {
        if (f.empty()) return std::nullopt;
        auto v = parse_int(f, fraction);
        if (!v) {
          bad(fmt::format("{} '{}' is not a non-negative integer", name, f));
          ok = false;
        }
        return v;
      };
      switch (columns[i]) {
      case Column::meter: meter_name = f; break;
      case Column::time: {
        auto t = parse_time(f);
        if (!t) {
          bad(fmt::format("time '{}' is not RFC 3339 or a site-local time", f));
          ok = false;
        } else {
          row.r.time = *t;
        }
        break;
      }
      case Column::energy_total: energy = number("energy_total", false); break;
      case Column::volume_total: volume = number("volume_total", false); break;
      case Column::sharp: row.r.sharp = number("energy_sharp", false); break;
      case Column::peak: row.r.peak = number("energy_peak", false); break;
      case Column::flat: row.r.flat = number("energy_flat", false); break;
      case Column::valley: row.r.valley = number("energy_valley", false); break;
      case Column::power: row.r.power = number("power_total", true); break;
      }
    }
    if (!ok) continue;
    if (meter_name.empty()) {
      bad("no meter");
      continue;
    }
    auto mit = by_name.find(meter_name);
    if (mit == by_name.end()) {
      auto st = db.prepare("SELECT id, kind FROM meters WHERE name = ?1 AND removed IS NULL");
      st.bind(1, meter_name);
      if (st.step()) {
        meters.push_back({st.get_int(0), std::string(meter_name), st.get_text(1) == "water"});
        by_id[meters.back().id] = meters.size() - 1;
        mit = by_name.emplace(std::string(meter_name), meters.size() - 1).first;
      }
    }
    if (mit == by_name.end()) {
      bad(fmt::format("no such meter: {}", meter_name));
      continue;
    }
    const ImportMeter& meter = meters[mit->second];
    row.r.meter_id = meter.id;
    auto value = meter.water ? volume : energy;
    if (!value) {
      bad(fmt::format("meter {} is {}: it needs {}", meter.name, meter.water ? "water" : "electricity",
                      meter.water ? "volume_total" : "energy_total"));
      continue;
    }
    row.r.value = *value;
    rows.push_back(row);
  }
  auto name_of = [&](std::int64_t meter_id) -> const std::string& { return meters[by_id.at(meter_id)].name; };

  // The checks against stored readings and the writes see one state of the database: the
  // transaction starts here, after the file was read.
  BulkCache cache(db);
  storage::Transaction tx(db);

  // In time order per meter; then check against the file itself and the stored readings.
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.r.meter_id != b.r.meter_id ? a.r.meter_id < b.r.meter_id : a.r.time < b.r.time;
  });
  std::vector<Row> todo;
  todo.reserve(rows.size());
  std::int64_t meter_id = 0;
  std::optional<UnixTime> latest; // the meter's latest stored reading
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    if (row.r.meter_id != meter_id) {
      meter_id = row.r.meter_id;
      auto r = readings::latest(db, meter_id);
      latest = r ? std::optional<UnixTime>(r->t) : std::nullopt;
    }
    if (i > 0 && rows[i - 1].r.meter_id == row.r.meter_id && rows[i - 1].r.time == row.r.time) {
      if (rows[i - 1].r.value != row.r.value)
        errors.push_back({row.line, fmt::format("meter {} at {} has a different value on line {}",
                                                name_of(row.r.meter_id), format_time(row.r.time), rows[i - 1].line)});
      else
        ++summary.skipped;
      continue;
    }
    if (latest && row.r.time <= *latest) {
      // Only a reading the meter has already may be this old.
      std::optional<std::int64_t> stored;
      if (auto r = readings::at(db, row.r.meter_id, row.r.time)) stored = r->value;
      if (!stored)
        errors.push_back({row.line, fmt::format("meter {} at {} is older than its latest reading ({})",
                                                name_of(row.r.meter_id), format_time(row.r.time), format_time(*latest))});
      else if (*stored != row.r.value)
        errors.push_back({row.line, fmt::format("meter {} already has {} at {}, not {}", name_of(row.r.meter_id),
                                                *stored, format_time(row.r.time), row.r.value)});
      else
        ++summary.skipped;
      continue;
    }
    todo.push_back(row);
  }
  rows.clear();
  rows.shrink_to_fit();
  if (!errors.empty()) {
    std::sort(errors.begin(), errors.end());
    // The first 50 line numbers and the first 10 reasons: a file of bad lines is one readable line.
    constexpr std::size_t k_numbers = 50, k_reasons = 10;
    std::string lines, details;
    for (std::size_t i = 0; i < errors.size() && i < k_numbers; ++i) {
      lines += (i ? ", " : "") + std::to_string(errors[i].first);
      if (i < k_reasons) details += fmt::format("; line {}: {}", errors[i].first, errors[i].second);
    }
    if (errors.size() > k_numbers) lines += fmt::format(" and {} more ({} in all)", errors.size() - k_numbers, errors.size());
    if (errors.size() > k_reasons) details += "; ...";
    fail(Exit::data, "{}: rejected, nothing imported: bad line{} {}{}", source, errors.size() == 1 ? "" : "s", lines,
         details);
  }

  std::stable_sort(todo.begin(), todo.end(), [](const Row& a, const Row& b) {
    return a.r.time != b.r.time ? a.r.time < b.r.time : a.r.meter_id < b.r.meter_id;
  });
  // Imported readings go straight into blocks (readings/store.hpp).
  readings::BlockWriter blocks(db);
  Biller biller(db, config);
  biller.store_into(&blocks);
  if (clock) biller.set_clock(clock);
  std::uint64_t billed = 0;
  for (const auto& row : todo) {
    report(ImportProgress::Phase::billing, billed++, todo.size());
    IngestResult res;
    try {
      res = biller.ingest(row.r);
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("{}:{}: {}", source, row.line, e.what()));
    }
    switch (res.outcome) {
    case Outcome::duplicate: ++summary.skipped; break;
    case Outcome::held: ++summary.held; break;
    case Outcome::counter_reset:
      ++summary.resets;
      ++summary.stored;
      break;
    default: ++summary.stored; break;
    }
    summary.charged += res.charged;
    summary.commands += static_cast<int>(res.commands.size());
  }
  // The days of an import of the past are over: their charges go to the ledger now.
  biller.post_days_over();
  blocks.finish();
  tx.commit();
  return summary;
}

} // namespace kwh::billing
