#include <kwh/billing/tariff.hpp>

#include <kwh/storage/database.hpp>

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <set>
#include <sstream>

namespace kwh::billing {

namespace {

struct FileContext {
  std::string source;
  [[noreturn]] void bad(const toml::node& n, std::string_view key, std::string_view why) const {
    fail(Exit::data, "{}:{}: {}: {}", source, n.source().begin.line, key, why);
  }
  [[noreturn]] void bad_at(const toml::source_region& r, std::string_view key, std::string_view why) const {
    fail(Exit::data, "{}:{}: {}: {}", source, r.begin.line, key, why);
  }
  std::string str(const toml::node& n, std::string_view key) const {
    if (auto v = n.value_exact<std::string>()) return *v;
    bad(n, key, "expected a string");
  }
  // Prices and money are strings ("1.2000") or integers; a TOML float would not be exact.
  std::string decimal_text(const toml::node& n, std::string_view key) const {
    if (n.is_string()) return *n.value_exact<std::string>();
    if (n.is_integer()) return std::to_string(*n.value_exact<std::int64_t>());
    bad(n, key, "expected a decimal string such as \"1.2000\" (a TOML float is not exact)");
  }
  Price price(const toml::node& n, std::string_view key) const {
    auto p = Price::parse(decimal_text(n, key));
    if (!p) bad(n, key, p.error().what());
    return *p;
  }
};

int parse_hhmm(std::string_view s) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (s.size() != 5 || s[2] != ':' || !digit(s[0]) || !digit(s[1]) || !digit(s[3]) || !digit(s[4])) return -1;
  int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 24 || m > 59 || (h == 24 && m != 0)) return -1;
  return h * 60 + m;
}

int parse_weekday(std::string_view s) {
  static constexpr const char* k_days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  for (int i = 0; i < 7; ++i)
    if (s == k_days[i]) return i;
  return -1;
}

bool known_band(std::string_view b) {
  return std::any_of(k_bands.begin(), k_bands.end(), [&](const char* k) { return b == k; });
}

} // namespace

std::string format_minutes(int m) { return fmt::format("{:02}:{:02}", m / 60, m % 60); }

const char* kind_name(TariffKind k) {
  switch (k) {
  case TariffKind::flat: return "flat";
  case TariffKind::tou: return "tou";
  case TariffKind::tiers: return "tiers";
  }
  return "flat";
}

bool Window::contains(int weekday, int minute) const {
  if (from_minute < to_minute) return (days >> weekday & 1u) && minute >= from_minute && minute < to_minute;
  // Across midnight: the evening part belongs to today's window, the morning part to yesterday's.
  if (minute >= from_minute) return days >> weekday & 1u;
  if (minute < to_minute) return days >> ((weekday + 6) % 7) & 1u;
  return false;
}

std::string TariffVersion::band_at(UnixTime t) const {
  if (kind != TariffKind::tou) return "flat";
  auto l = to_local(t);
  int minute = l.hour * 60 + l.minute;
  for (const auto& w : windows)
    if (w.contains(l.weekday, minute)) return w.band;
  return "flat";
}

Price TariffVersion::band_price(const std::string& band) const {
  if (kind == TariffKind::flat) return flat_price;
  auto it = bands.find(band);
  if (it == bands.end()) fail(Exit::data, "the tariff has no price for band '{}'", band);
  return it->second;
}

std::map<std::string, std::int64_t> TariffVersion::band_seconds(UnixTime t0, UnixTime t1) const {
  std::map<std::string, std::int64_t> out;
  if (t1 <= t0) return out;
  if (kind != TariffKind::tou) {
    out["flat"] = t1 - t0;
    return out;
  }
  // The band can only change at a window edge or at midnight (the weekday changes there).
  std::set<int> edges{24 * 60};
  for (const auto& w : windows) {
    edges.insert(w.from_minute);
    edges.insert(w.to_minute);
  }
  // Walk (t0, t1] as [t0, t1): the instant t0 itself is a boundary of zero length.
  UnixTime t = t0;
  while (t < t1) {
    auto l = to_local(t);
    int minute = l.hour * 60 + l.minute;
    std::string band = band_at(t);
    int next_edge = *edges.upper_bound(minute);
    UnixTime next = from_local(l.year, l.month, l.day, next_edge / 60, next_edge % 60);
    if (next <= t) next = t + 60 - l.second; // a DST gap: step a minute
    UnixTime end = std::min(next, t1);
    out[band] += end - t;
    t = end;
  }
  return out;
}

TariffVersion parse_tariff(std::string_view text, const std::string& source, UnixTime default_effective,
                           int minor_units) {
  FileContext fc{source};
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    fail(Exit::data, "{}:{}: {}", source, e.source().begin.line, e.description());
  }
  TariffVersion v;
  v.effective = default_effective;
  bool has_bands = false, has_tiers = false, has_price = false, has_windows = false;
  std::optional<toml::source_region> standing_charge_at, standing_period_at;
  for (const auto& [key_node, node] : root) {
    std::string key(key_node.str());
    if (key == "effective") {
      auto d = parse_date(fc.str(node, key));
      if (!d) fc.bad(node, key, "expected a site-local date YYYY-MM-DD");
      v.effective = *d;
    } else if (key == "unit") {
      v.unit = fc.str(node, key);
      if (v.unit != "kWh" && v.unit != "m3") fc.bad(node, key, "must be \"kWh\" or \"m3\"");
    } else if (key == "price") {
      v.flat_price = fc.price(node, key);
      has_price = true;
    } else if (key == "standing_charge") {
      auto m = Money::parse(fc.decimal_text(node, key), minor_units);
      if (!m) fc.bad(node, key, m.error().what());
      v.standing_charge = *m;
      standing_charge_at = node.source();
    } else if (key == "standing_period") {
      std::string p = fc.str(node, key);
      if (p == "day") v.standing_period = StandingPeriod::day;
      else if (p == "month") v.standing_period = StandingPeriod::month;
      else fc.bad(node, key, "must be \"day\" or \"month\"");
      standing_period_at = node.source();
    } else if (key == "bands") {
      const auto* t = node.as_table();
      if (!t) fc.bad(node, key, "expected a table of band prices");
      for (const auto& [bk, bn] : *t) {
        std::string band(bk.str());
        if (!known_band(band)) fc.bad(bn, "bands." + band, "unknown band (sharp, peak, flat or valley)");
        v.bands[band] = fc.price(bn, "bands." + band);
      }
      has_bands = true;
    } else if (key == "windows") {
      const auto* arr = node.as_array();
      if (!arr || !arr->is_array_of_tables()) fc.bad(node, key, "expected [[windows]] tables");
      for (const auto& wn : *arr) {
        const auto& wt = *wn.as_table();
        Window w;
        bool has_from = false, has_to = false, has_band = false;
        for (const auto& [wk, wv] : wt) {
          std::string k(wk.str());
          std::string full = "windows." + k;
          if (k == "band") {
            w.band = fc.str(wv, full);
            if (!known_band(w.band)) fc.bad(wv, full, "unknown band (sharp, peak, flat or valley)");
            has_band = true;
          } else if (k == "from" || k == "to") {
            int m = parse_hhmm(fc.str(wv, full));
            if (m < 0) fc.bad(wv, full, "expected a site-local time HH:MM");
            if (k == "from" && m == 24 * 60) fc.bad(wv, full, "24:00 ends a day; start the window at 00:00");
            (k == "from" ? w.from_minute : w.to_minute) = m;
            (k == "from" ? has_from : has_to) = true;
          } else if (k == "days") {
            const auto* da = wv.as_array();
            if (!da || da->empty()) fc.bad(wv, full, "expected a list of days such as [\"mon\", \"tue\"]");
            w.days = 0;
            for (const auto& dn : *da) {
              int d = parse_weekday(fc.str(dn, full));
              if (d < 0) fc.bad(dn, full, "expected sun, mon, tue, wed, thu, fri or sat");
              w.days |= 1u << d;
            }
          } else {
            fc.bad(wv, full, "unknown key (band, from, to, days)");
          }
        }
        if (!has_band || !has_from || !has_to)
          fc.bad_at(wt.source(), "windows", "each window needs band, from and to");
        if (w.from_minute == w.to_minute) fc.bad_at(wt.source(), "windows", "from and to are the same time");
        v.windows.push_back(std::move(w));
      }
      has_windows = true;
    } else if (key == "tiers") {
      const auto* arr = node.as_array();
      if (!arr || !arr->is_array_of_tables() || arr->empty()) fc.bad(node, key, "expected [[tiers]] tables");
      for (const auto& tn : *arr) {
        const auto& tt = *tn.as_table();
        Tier tier;
        bool has_tier_price = false;
        for (const auto& [tk, tv] : tt) {
          std::string k(tk.str());
          std::string full = "tiers." + k;
          if (k == "upto") {
            // kWh or m³ with up to 3 decimals, stored as Wh or litres.
            auto q = parse_decimal(fc.decimal_text(tv, full), 3, 3, false);
            if (!q || *q <= 0) fc.bad(tv, full, "expected a positive quantity such as \"100\" or \"12.5\"");
            tier.upto = *q;
          } else if (k == "price") {
            tier.price = fc.price(tv, full);
            has_tier_price = true;
          } else {
            fc.bad(tv, full, "unknown key (upto, price)");
          }
        }
        if (!has_tier_price) fc.bad_at(tt.source(), "tiers", "each tier needs a price");
        v.tiers.push_back(tier);
      }
      for (std::size_t i = 0; i < v.tiers.size(); ++i) {
        bool last = i + 1 == v.tiers.size();
        const auto& src = arr->get(i)->source();
        if (last && v.tiers[i].upto) fc.bad_at(src, "tiers.upto", "the last tier has no upto");
        if (!last && !v.tiers[i].upto) fc.bad_at(src, "tiers.upto", "every tier but the last needs upto");
        if (i > 0 && !last && *v.tiers[i].upto <= *v.tiers[i - 1].upto)
          fc.bad_at(src, "tiers.upto", "tiers must be in ascending order of upto");
      }
      has_tiers = true;
    } else {
      fc.bad(node, key,
             "unknown key (effective, unit, price, bands, windows, tiers, standing_charge, standing_period)");
    }
  }
  int kinds = int(has_bands) + int(has_tiers) + int(has_price);
  if (kinds != 1)
    fail(Exit::data, "{}:1: a tariff has exactly one of price (flat), [bands] (time-of-use) or [[tiers]]", source);
  if (has_windows && !has_bands) fail(Exit::data, "{}:1: windows: [[windows]] need [bands]", source);
  if (has_bands) {
    v.kind = TariffKind::tou;
    if (!v.bands.count("flat"))
      fail(Exit::data, "{}:1: bands.flat: time-of-use needs a flat price (times in no window are flat)", source);
    for (const auto& w : v.windows)
      if (!v.bands.count(w.band))
        fail(Exit::data, "{}:1: windows.band: band '{}' has no price in [bands]", source, w.band);
  } else if (has_tiers) {
    v.kind = TariffKind::tiers;
  } else {
    v.kind = TariffKind::flat;
  }
  if (standing_charge_at && v.standing_period == StandingPeriod::none)
    fc.bad_at(*standing_charge_at, "standing_period", "standing_charge needs standing_period (day or month)");
  if (standing_period_at && !standing_charge_at)
    fc.bad_at(*standing_period_at, "standing_charge", "standing_period needs standing_charge");
  return v;
}

std::string flat_tariff_body(Price price, UnixTime effective, const std::string& unit) {
  return fmt::format("effective = \"{}\"\nunit = \"{}\"\nprice = \"{}\"\n", format_date(effective), unit,
                     price.format());
}

std::int64_t add_tariff_version(storage::Database& db, const std::string& name, const TariffVersion& v,
                                const std::string& body, UnixTime created, int minor_units) {
  if (name.empty()) fail(Exit::usage, "a tariff needs a name");
  std::int64_t tariff_id;
  {
    auto st = db.prepare("SELECT id FROM tariffs WHERE name = ?1");
    st.bind(1, name);
    if (st.step()) {
      tariff_id = st.get_int(0);
    } else {
      db.prepare("INSERT INTO tariffs(name, created) VALUES (?1, ?2)").bind_all(name, created).run();
      tariff_id = db.last_insert_rowid();
    }
  }
  for (const auto& old : tariff_versions(db, tariff_id, minor_units)) {
    if (old.version.effective == v.effective)
      fail(Exit::data, "tariff {} already has a version effective {}", name, format_date(v.effective));
    if (old.version.unit != v.unit)
      fail(Exit::data, "tariff {} is priced per {}, not {}", name, old.version.unit, v.unit);
  }
  db.prepare("INSERT INTO tariff_versions(tariff_id, effective, unit, kind, body, created) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
      .bind_all(tariff_id, v.effective, v.unit, std::string(kind_name(v.kind)), body, created)
      .run();
  return tariff_id;
}

TariffInfo find_tariff(storage::Database& db, const std::string& name) {
  auto& st = db.cached("SELECT id, name, created FROM tariffs WHERE name = ?1");
  st.bind(1, name);
  if (!st.step()) {
    st.reset();
    fail(Exit::no_input, "no such tariff: {}", name);
  }
  TariffInfo t{st.get_int(0), st.get_text(1), st.get_int(2)};
  st.reset();
  return t;
}

std::vector<TariffInfo> list_tariffs(storage::Database& db) {
  std::vector<TariffInfo> out;
  auto st = db.prepare("SELECT id, name, created FROM tariffs ORDER BY name");
  while (st.step()) out.push_back({st.get_int(0), st.get_text(1), st.get_int(2)});
  return out;
}

std::vector<StoredVersion> tariff_versions(storage::Database& db, std::int64_t tariff_id, int minor_units) {
  std::vector<StoredVersion> out;
  auto st = db.prepare("SELECT id, body, effective FROM tariff_versions WHERE tariff_id = ?1 ORDER BY effective");
  st.bind(1, tariff_id);
  while (st.step()) {
    StoredVersion sv;
    sv.id = st.get_int(0);
    sv.tariff_id = tariff_id;
    sv.body = st.get_text(1);
    sv.version = parse_tariff(sv.body, fmt::format("tariff version {}", sv.id), st.get_int(2), minor_units);
    // The stored effective time is authoritative (the body's date was read in the zone of the day).
    sv.version.effective = st.get_int(2);
    out.push_back(std::move(sv));
  }
  return out;
}

const TariffVersion* TariffHistory::at(UnixTime t) const {
  const TariffVersion* found = nullptr;
  for (const auto& sv : m_versions)
    if (sv.version.effective <= t) found = &sv.version;
  return found;
}

const StoredVersion* TariffHistory::in_force(UnixTime t) const {
  if (m_versions.empty()) return nullptr;
  const StoredVersion* found = &m_versions.front();
  for (const auto& sv : m_versions)
    if (sv.version.effective <= t) found = &sv;
  return found;
}

} // namespace kwh::billing
