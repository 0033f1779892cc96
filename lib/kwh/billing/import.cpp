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

std::optional<std::int64_t> parse_int(std::string_view s, bool allow_fraction) {
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

// A line's fields without copying them: split at commas, each trimmed of blanks. A line with a
// double quote takes the slow path (split_csv), which copies into `quoted`.
bool split_fields(const std::string& line, std::vector<std::string_view>& fields, std::vector<std::string>& quoted) {
  fields.clear();
  if (line.find('"') != std::string::npos) {
    quoted = split_csv(line);
    for (const auto& q : quoted) fields.emplace_back(q);
    return true;
  }
  std::string_view rest(line);
  for (;;) {
    auto comma = rest.find(',');
    std::string_view f = rest.substr(0, comma);
    auto b = f.find_first_not_of(" \t");
    auto e = f.find_last_not_of(" \t\r");
    fields.push_back(b == std::string_view::npos ? std::string_view() : f.substr(b, e - b + 1));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return true;
}

enum class Column { meter, time, energy_total, volume_total, sharp, peak, flat, valley, power };

// One good line of the file, compact (a file of millions is held and sorted in memory).
struct Row {
  UnixTime time = 0;
  std::int64_t value = 0;
  std::int64_t bands[4] = {0, 0, 0, 0}; // sharp, peak, flat, valley
  std::int64_t power = 0;
  std::int32_t meter = 0; // index in the import's meters
  std::int32_t line = 0;
  std::uint8_t present = 0; // bits 0..3: bands, bit 4: power; bit 7: skipped (already stored)
};
constexpr std::uint8_t k_skip = 0x80;

struct ImportMeter {
  std::int64_t id = 0;
  std::string name;
  bool water = false;
  // What the checks have seen: the stored latest reading's time (loaded once), and the file's
  // last row of the meter so far (rows are checked in time order).
  bool loaded = false;
  std::optional<UnixTime> latest;
  std::optional<UnixTime> last_time;
  std::int64_t last_value = 0;
  int last_line = 0;
};

Reading reading_of(const Row& row, std::int64_t meter_id) {
  Reading r;
  r.meter_id = meter_id;
  r.time = row.time;
  r.value = row.value;
  std::optional<std::int64_t>* bands[4] = {&r.sharp, &r.peak, &r.flat, &r.valley};
  for (int i = 0; i < 4; ++i)
    if (row.present & (1u << i)) *bands[i] = row.bands[i];
  if (row.present & 0x10) r.power = row.power;
  r.imported = true;
  return r;
}

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
  std::vector<ImportMeter> meters;                                  // in the order first seen
  std::map<std::string, std::int32_t, std::less<>> by_name;         // -> index in meters
  std::vector<std::string_view> fields;
  std::vector<std::string> quoted;
  std::string last_time_text;
  std::optional<UnixTime> last_time;
  int line_no = 1;
  ImportSummary summary;
  // How much is left of a file (not of a pipe), to make room for its rows at once: growing a
  // vector of millions copies it over and over.
  std::optional<std::int64_t> left;
  {
    const auto here = in.tellg();
    if (here >= 0 && in.seekg(0, std::ios::end)) {
      left = static_cast<std::int64_t>(in.tellg() - here);
      in.seekg(here);
    }
    in.clear();
  }
  std::int64_t bytes_read = 0;
  while (std::getline(in, line)) {
    ++line_no;
    bytes_read += static_cast<std::int64_t>(line.size()) + 1;
    if (left && line_no == 1000 && *left > bytes_read)
      rows.reserve(static_cast<std::size_t>(*left / (bytes_read / 999) * 11 / 10));
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++summary.lines;
    report(ImportProgress::Phase::reading, static_cast<std::uint64_t>(summary.lines), 0);
    split_fields(line, fields, quoted);
    auto bad = [&](std::string why) { errors.push_back({line_no, std::move(why)}); };
    if (fields.size() != columns.size()) {
      bad(fmt::format("{} fields, expected {}", fields.size(), columns.size()));
      continue;
    }
    Row row;
    row.line = line_no;
    std::string_view meter_name;
    std::optional<std::int64_t> energy, volume;
    bool ok = true;
    for (std::size_t i = 0; i < columns.size() && ok; ++i) {
      const std::string_view f = fields[i];
      auto number = [&](const char* name, bool fraction) -> std::optional<std::int64_t> {
        if (f.empty()) return std::nullopt;
        auto v = parse_int(f, fraction);
        if (!v) {
          bad(fmt::format("{} '{}' is not a non-negative integer", name, f));
          ok = false;
        }
        return v;
      };
      auto band = [&](int b, const char* name) {
        if (auto v = number(name, false)) {
          row.bands[b] = *v;
          row.present |= static_cast<std::uint8_t>(1u << b);
        }
      };
      switch (columns[i]) {
      case Column::meter: meter_name = f; break;
      case Column::time: {
        // A file has many lines of one time (a poll of every meter): parse each text once.
        if (!last_time || f != last_time_text) {
          auto t = parse_time(f);
          last_time_text.assign(f);
          last_time = t ? std::optional<UnixTime>(*t) : std::nullopt;
          if (!t) last_time_text.clear();
        }
        if (!last_time) {
          bad(fmt::format("time '{}' is not RFC 3339 or a site-local time", f));
          ok = false;
        } else {
          row.time = *last_time;
        }
        break;
      }
      case Column::energy_total: energy = number("energy_total", false); break;
      case Column::volume_total: volume = number("volume_total", false); break;
      case Column::sharp: band(0, "energy_sharp"); break;
      case Column::peak: band(1, "energy_peak"); break;
      case Column::flat: band(2, "energy_flat"); break;
      case Column::valley: band(3, "energy_valley"); break;
      case Column::power:
        if (auto v = number("power_total", true)) {
          row.power = *v;
          row.present |= 0x10;
        }
        break;
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
        ImportMeter m;
        m.id = st.get_int(0);
        m.name = std::string(meter_name);
        m.water = st.get_text(1) == "water";
        meters.push_back(std::move(m));
        mit = by_name.emplace(std::string(meter_name), static_cast<std::int32_t>(meters.size() - 1)).first;
      }
    }
    if (mit == by_name.end()) {
      bad(fmt::format("no such meter: {}", meter_name));
      continue;
    }
    const ImportMeter& meter = meters[static_cast<std::size_t>(mit->second)];
    row.meter = mit->second;
    auto value = meter.water ? volume : energy;
    if (!value) {
      bad(fmt::format("meter {} is {}: it needs {}", meter.name, meter.water ? "water" : "electricity",
                      meter.water ? "volume_total" : "energy_total"));
      continue;
    }
    row.value = *value;
    rows.push_back(row);
  }

  // The checks against stored readings and the writes see one state of the database: the
  // transaction starts here, after the file was read.
  BulkCache cache(db);
  storage::Transaction tx(db);

  // In time order (then meter; lines of one meter and time in file order): the order of
  // billing, and, per meter, of the checks. A file written in time order needs no sort.
  auto before = [&](const Row& a, const Row& b) {
    if (a.time != b.time) return a.time < b.time;
    return meters[static_cast<std::size_t>(a.meter)].id < meters[static_cast<std::size_t>(b.meter)].id;
  };
  if (!std::is_sorted(rows.begin(), rows.end(), before)) std::stable_sort(rows.begin(), rows.end(), before);

  std::size_t to_bill = 0;
  for (auto& row : rows) {
    ImportMeter& m = meters[static_cast<std::size_t>(row.meter)];
    if (!m.loaded) {
      auto r = readings::latest(db, m.id);
      m.latest = r ? std::optional<UnixTime>(r->t) : std::nullopt;
      m.loaded = true;
    }
    const bool again_in_file = m.last_time && *m.last_time == row.time;
    const int previous_line = m.last_line;
    const std::int64_t previous_value = m.last_value;
    m.last_time = row.time;
    m.last_line = row.line;
    m.last_value = row.value;
    if (again_in_file) {
      if (previous_value != row.value)
        errors.push_back({row.line, fmt::format("meter {} at {} has a different value on line {}", m.name,
                                                format_time(row.time), previous_line)});
      else
        ++summary.skipped;
      row.present |= k_skip;
      continue;
    }
    if (m.latest && row.time <= *m.latest) {
      // Only a reading the meter has already may be this old.
      std::optional<std::int64_t> stored;
      if (auto r = readings::at(db, m.id, row.time)) stored = r->value;
      if (!stored)
        errors.push_back({row.line, fmt::format("meter {} at {} is older than its latest reading ({})", m.name,
                                                format_time(row.time), format_time(*m.latest))});
      else if (*stored != row.value)
        errors.push_back({row.line, fmt::format("meter {} already has {} at {}, not {}", m.name, *stored,
                                                format_time(row.time), row.value)});
      else
        ++summary.skipped;
      row.present |= k_skip;
      continue;
    }
    ++to_bill;
  }
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

  // Imported readings go straight into blocks (readings/store.hpp).
  readings::BlockWriter blocks(db);
  Biller biller(db, config);
  biller.store_into(&blocks);
  if (clock) biller.set_clock(clock);
  std::uint64_t billed = 0;
  for (const auto& row : rows) {
    if (row.present & k_skip) continue;
    report(ImportProgress::Phase::billing, billed++, to_bill);
    IngestResult res;
    try {
      res = biller.ingest(reading_of(row, meters[static_cast<std::size_t>(row.meter)].id));
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
  report(ImportProgress::Phase::billing, billed, to_bill);
  // The days of an import of the past are over: their charges go to the ledger now.
  biller.post_days_over();
  blocks.finish();
  tx.commit();
  return summary;
}

} // namespace kwh::billing
