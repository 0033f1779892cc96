#include <kwh/modbus/profile.hpp>

#include <kwh/dlt645/identifiers.hpp>
#include <kwh/util/error.hpp>

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>

namespace kwh::modbus {

namespace {

// Every failure of one profile names its source, the line where toml++ knows it, and the key.
class Checker {
public:
  explicit Checker(const std::string& source) : m_source(source) {}

  [[noreturn]] void bad(const toml::node* node, const std::string& key, const std::string& why) const {
    if (node && node->source().begin.line > 0)
      fail(Exit::config, "profile {}:{}: {}: {}", m_source, node->source().begin.line, key, why);
    fail(Exit::config, "profile {}: {}: {}", m_source, key, why);
  }

  void only_keys(const toml::table& t, const std::string& prefix, std::initializer_list<std::string_view> known) const {
    for (const auto& [k, node] : t) {
      if (std::find(known.begin(), known.end(), k.str()) == known.end())
        bad(&node, prefix + std::string(k.str()), "unknown key");
    }
  }

  std::string string(const toml::node& n, const std::string& key) const {
    if (auto v = n.value_exact<std::string>()) return *v;
    bad(&n, key, "expected a string");
  }

  std::int64_t integer(const toml::node& n, const std::string& key, std::int64_t lo, std::int64_t hi) const {
    auto v = n.value_exact<std::int64_t>();
    if (!v) bad(&n, key, "expected an integer");
    if (*v < lo || *v > hi) bad(&n, key, fmt::format("{} is out of range {}..{}", *v, lo, hi));
    return *v;
  }

  const toml::node& required(const toml::table& t, const toml::node* where, const std::string& prefix,
                             std::string_view key) const {
    if (const toml::node* n = t.get(key)) return *n;
    bad(where, prefix + std::string(key), "missing");
  }

  const std::string& source() const { return m_source; }

private:
  const std::string& m_source;
};

bool valid_name(std::string_view s, bool allow_punct) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           (allow_punct && (c == '-' || c == '.'));
  });
}

std::string write_mode(const Checker& ck, const toml::node& n, const std::string& key, bool& single) {
  auto s = ck.string(n, key);
  if (s == "single") single = true;
  else if (s == "multiple") single = false;
  else ck.bad(&n, key, fmt::format("must be \"single\" or \"multiple\", not '{}'", s));
  return s;
}

ValueSpec parse_value(const Checker& ck, const toml::node& node, const std::string& section,
                      std::string_view name, bool is_setting) {
  const std::string prefix = fmt::format("{}.{}", section, name);
  const auto* t = node.as_table();
  if (!t) ck.bad(&node, prefix, "expected a table");
  if (!valid_name(name, false)) ck.bad(&node, prefix, "names are lower-case letters, digits and '_'");
  if (is_setting) ck.only_keys(*t, prefix + ".", {"table", "address", "type", "scale", "write"});
  else ck.only_keys(*t, prefix + ".", {"table", "address", "type", "scale"});

  ValueSpec v;
  v.name = std::string(name);

  const toml::node& table_node = ck.required(*t, &node, prefix + ".", "table");
  auto table_text = ck.string(table_node, prefix + ".table");
  auto table = parse_table(table_text);
  if (!table) ck.bad(&table_node, prefix + ".table", fmt::format("unknown table '{}' (coil, discrete, holding, input)", table_text));
  if (is_setting && (*table == Table::input || *table == Table::discrete))
    ck.bad(&table_node, prefix + ".table", fmt::format("a setting must be writable: holding or coil, not {}", table_text));
  v.table = *table;

  const toml::node& addr_node = ck.required(*t, &node, prefix + ".", "address");
  v.address = static_cast<std::uint16_t>(ck.integer(addr_node, prefix + ".address", 0, 65535));

  if (const toml::node* type_node = t->get("type")) {
    auto type_text = ck.string(*type_node, prefix + ".type");
    auto type = parse_value_type(type_text);
    if (!type) ck.bad(type_node, prefix + ".type", fmt::format("unknown type '{}'", type_text));
    if (is_bit_table(v.table) && *type != ValueType::u16)
      ck.bad(type_node, prefix + ".type", fmt::format("a {} holds one bit: type must be u16", table_text));
    v.type = *type;
  } else if (!is_bit_table(v.table)) {
    ck.bad(&node, prefix + ".type", "missing");
  }
  if (v.end() > 65536) ck.bad(&addr_node, prefix + ".address", "the value runs past register 65535");

  if (const toml::node* scale_node = t->get("scale")) {
    std::optional<double> s;
    if (scale_node->is_integer()) s = static_cast<double>(*scale_node->value_exact<std::int64_t>());
    else if (scale_node->is_floating_point()) s = *scale_node->value_exact<double>();
    if (!s) ck.bad(scale_node, prefix + ".scale", "expected a number");
    if (!std::isfinite(*s) || *s == 0) ck.bad(scale_node, prefix + ".scale", "must be a finite number other than 0");
    v.scale = *s;
  }

  if (const toml::node* w = t->get("write")) {
    write_mode(ck, *w, prefix + ".write", v.single_write);
    if (v.single_write && v.table == Table::holding && v.words() != 1)
      ck.bad(w, prefix + ".write", fmt::format("\"single\" writes one register, but {} takes {}",
                                               to_string(v.type), v.words()));
  }
  return v;
}

std::vector<std::uint16_t> relay_words(const Checker& ck, const toml::node& n, const std::string& key, Table table) {
  std::vector<std::uint16_t> out;
  if (table == Table::coil) {
    if (auto b = n.value_exact<bool>()) return {std::uint16_t(*b ? 1 : 0)};
    out.push_back(static_cast<std::uint16_t>(ck.integer(n, key, 0, 1)));
    return out;
  }
  if (const auto* arr = n.as_array()) {
    if (arr->empty() || arr->size() > 123) ck.bad(&n, key, "expected 1 to 123 register words");
    for (const auto& e : *arr) out.push_back(static_cast<std::uint16_t>(ck.integer(e, key, 0, 65535)));
    return out;
  }
  if (!n.is_integer()) ck.bad(&n, key, "expected a register word or an array of them");
  out.push_back(static_cast<std::uint16_t>(ck.integer(n, key, 0, 65535)));
  return out;
}

RelayStatus parse_relay_status(const Checker& ck, const toml::node& node) {
  const auto* t = node.as_table();
  if (!t) ck.bad(&node, "relay.status", "expected a table");
  ck.only_keys(*t, "relay.status.", {"table", "address", "bit", "on", "off"});
  RelayStatus s;
  const toml::node& table_node = ck.required(*t, &node, "relay.status.", "table");
  auto table = parse_table(ck.string(table_node, "relay.status.table"));
  if (!table) ck.bad(&table_node, "relay.status.table", "must be coil, discrete, holding or input");
  s.table = *table;
  s.address = static_cast<std::uint16_t>(ck.integer(ck.required(*t, &node, "relay.status.", "address"),
                                                    "relay.status.address", 0, 65535));
  const bool one_bit = is_bit_table(s.table) || t->get("bit");
  if (const toml::node* b = t->get("bit")) {
    if (is_bit_table(s.table)) ck.bad(b, "relay.status.bit", "only for holding or input registers");
    s.bit = static_cast<int>(ck.integer(*b, "relay.status.bit", 0, 15));
  }
  auto state = [&](const char* key, std::uint16_t fallback) -> std::uint16_t {
    const toml::node* n = t->get(key);
    const std::string full = std::string("relay.status.") + key;
    if (!n) {
      if (one_bit) return fallback;
      ck.bad(&node, full, "missing: the register value that means the relay is " + std::string(key));
    }
    if (auto b = n->value_exact<bool>()) return *b ? 1 : 0;
    return static_cast<std::uint16_t>(ck.integer(*n, full, 0, one_bit ? 1 : 65535));
  };
  // A bit that is set while power flows is the usual case; `on = 0` says the opposite.
  s.on = state("on", 1);
  s.off = state("off", s.on ? 0 : 1);
  if (s.on == s.off) ck.bad(t->get("off"), "relay.status.off", "must differ from relay.status.on");
  return s;
}

ClockSpec parse_clock(const Checker& ck, const toml::node& node, bool dlt645) {
  const auto* t = node.as_table();
  if (!t) ck.bad(&node, "clock", "expected a table");
  ClockSpec c;
  if (dlt645) {
    // The standard says where the clock is and how it is set; nothing to choose.
    ck.only_keys(*t, "clock.", {"set"});
    if (const toml::node* set = t->get("set"))
      if (ck.string(*set, "clock.set") != "broadcast") ck.bad(set, "clock.set", "must be broadcast");
    return c;
  }
  ck.only_keys(*t, "clock.", {"table", "address", "format"});
  const toml::node& table_node = ck.required(*t, &node, "clock.", "table");
  if (ck.string(table_node, "clock.table") != "holding") ck.bad(&table_node, "clock.table", "must be holding");
  const toml::node& addr_node = ck.required(*t, &node, "clock.", "address");
  c.address = static_cast<std::uint16_t>(ck.integer(addr_node, "clock.address", 0, 65535));
  const toml::node& format_node = ck.required(*t, &node, "clock.", "format");
  auto format = ck.string(format_node, "clock.format");
  if (format == "ymdhms") c.format = ClockFormat::ymdhms;
  else if (format == "bcd") c.format = ClockFormat::bcd;
  else if (format == "unix") c.format = ClockFormat::unix_seconds;
  else ck.bad(&format_node, "clock.format", fmt::format("must be ymdhms, bcd or unix, not '{}'", format));
  if (std::uint32_t(c.address) + std::uint32_t(c.words()) > 65536)
    ck.bad(&addr_node, "clock.address", "the clock runs past register 65535");
  return c;
}

TariffSpec parse_tariff_spec(const Checker& ck, const toml::node& node) {
  const auto* t = node.as_table();
  if (!t) ck.bad(&node, "tariff", "expected a table");
  ck.only_keys(*t, "tariff.", {"bands", "prices", "plan"});
  TariffSpec spec;
  if (const toml::node* b = t->get("bands")) {
    const auto* arr = b->as_array();
    if (!arr || arr->empty() || arr->size() > 8) ck.bad(b, "tariff.bands", "expected 1 to 8 band names");
    spec.bands.clear();
    for (const auto& e : *arr) {
      auto name = ck.string(e, "tariff.bands");
      if (name != "sharp" && name != "peak" && name != "flat" && name != "valley")
        ck.bad(&e, "tariff.bands", fmt::format("'{}' is not a band (sharp, peak, flat, valley)", name));
      if (std::find(spec.bands.begin(), spec.bands.end(), name) != spec.bands.end())
        ck.bad(&e, "tariff.bands", fmt::format("'{}' twice", name));
      spec.bands.push_back(name);
    }
  }
  auto register_span = [&](const toml::table& sec, const toml::node& sec_node, const std::string& prefix) {
    const toml::node& table_node = ck.required(sec, &sec_node, prefix + ".", "table");
    if (ck.string(table_node, prefix + ".table") != "holding") ck.bad(&table_node, prefix + ".table", "must be holding");
    return &ck.required(sec, &sec_node, prefix + ".", "address");
  };
  if (const toml::node* pn = t->get("prices")) {
    const auto* sec = pn->as_table();
    if (!sec) ck.bad(pn, "tariff.prices", "expected a table");
    ck.only_keys(*sec, "tariff.prices.", {"table", "address", "type", "decimals"});
    TariffSpec::Prices prices;
    const toml::node* addr = register_span(*sec, *pn, "tariff.prices");
    prices.address = static_cast<std::uint16_t>(ck.integer(*addr, "tariff.prices.address", 0, 65535));
    if (const toml::node* ty = sec->get("type")) {
      auto text = ck.string(*ty, "tariff.prices.type");
      if (text == "u16") prices.type = ValueType::u16;
      else if (text == "u32") prices.type = ValueType::u32;
      else ck.bad(ty, "tariff.prices.type", fmt::format("must be u16 or u32, not '{}'", text));
    }
    if (const toml::node* d = sec->get("decimals"))
      prices.decimals = static_cast<int>(ck.integer(*d, "tariff.prices.decimals", 0, 8));
    if (std::uint32_t(prices.address) + words(prices.type) * spec.bands.size() > 65536)
      ck.bad(addr, "tariff.prices.address", "the prices run past register 65535");
    spec.prices = prices;
  }
  if (const toml::node* pl = t->get("plan")) {
    const auto* sec = pl->as_table();
    if (!sec) ck.bad(pl, "tariff.plan", "expected a table");
    ck.only_keys(*sec, "tariff.plan.", {"table", "address", "slots", "layout"});
    TariffSpec::Plan plan;
    const toml::node* addr = register_span(*sec, *pl, "tariff.plan");
    plan.address = static_cast<std::uint16_t>(ck.integer(*addr, "tariff.plan.address", 0, 65535));
    if (const toml::node* n = sec->get("slots")) plan.slots = static_cast<int>(ck.integer(*n, "tariff.plan.slots", 1, 41));
    if (const toml::node* l = sec->get("layout")) {
      const auto* arr = l->as_array();
      std::vector<std::string> names;
      if (arr)
        for (const auto& e : *arr) names.push_back(ck.string(e, "tariff.plan.layout"));
      auto sorted = names;
      std::sort(sorted.begin(), sorted.end());
      if (sorted != std::vector<std::string>{"band", "hour", "minute"})
        ck.bad(l, "tariff.plan.layout", "must name band, minute and hour once each, such as [\"band\", \"minute\", \"hour\"]");
      std::copy(names.begin(), names.end(), plan.layout.begin());
    }
    if (std::uint32_t(plan.address) + 3u * std::uint32_t(plan.slots) > 65536)
      ck.bad(addr, "tariff.plan.address", "the plan runs past register 65535");
    spec.plan = plan;
  }
  if (!spec.prices && !spec.plan) ck.bad(&node, "tariff", "needs [tariff.prices], [tariff.plan] or both");
  return spec;
}

RelaySpec parse_relay(const Checker& ck, const toml::node& node) {
  const auto* t = node.as_table();
  if (!t) ck.bad(&node, "relay", "expected a table");
  ck.only_keys(*t, "relay.", {"table", "address", "on", "off", "write", "status"});
  RelaySpec r;
  const toml::node& table_node = ck.required(*t, &node, "relay.", "table");
  auto table_text = ck.string(table_node, "relay.table");
  if (table_text == "coil") r.table = Table::coil;
  else if (table_text == "holding") r.table = Table::holding;
  else ck.bad(&table_node, "relay.table", fmt::format("must be coil or holding, not '{}'", table_text));
  const toml::node& addr_node = ck.required(*t, &node, "relay.", "address");
  r.address = static_cast<std::uint16_t>(ck.integer(addr_node, "relay.address", 0, 65535));
  r.on = relay_words(ck, ck.required(*t, &node, "relay.", "on"), "relay.on", r.table);
  r.off = relay_words(ck, ck.required(*t, &node, "relay.", "off"), "relay.off", r.table);
  if (r.address + std::max(r.on.size(), r.off.size()) > 65536)
    ck.bad(&addr_node, "relay.address", "the words run past register 65535");
  if (r.on == r.off) ck.bad(t->get("off"), "relay.off", "must differ from relay.on");
  if (const toml::node* w = t->get("write")) {
    write_mode(ck, *w, "relay.write", r.single_write);
    if (r.single_write && r.table == Table::holding && (r.on.size() != 1 || r.off.size() != 1))
      ck.bad(w, "relay.write", "\"single\" writes one register, but on/off have more words");
  }
  if (const toml::node* st = t->get("status")) r.status = parse_relay_status(ck, *st);
  return r;
}

// A DL/T 645 profile's value: its data identifier, given (di = 0x00010000) or, for the names
// kwh knows, the standard's; either way one whose value bytes kwh decodes.
ValueSpec parse_dlt645_value(const Checker& ck, const toml::node& node, std::string_view name) {
  const std::string prefix = fmt::format("values.{}", name);
  const auto* t = node.as_table();
  if (!t) ck.bad(&node, prefix, "expected a table");
  if (!valid_name(name, false)) ck.bad(&node, prefix, "names are lower-case letters, digits and '_'");
  ck.only_keys(*t, prefix + ".", {"di"});
  ValueSpec v;
  v.name = std::string(name);
  const dlt645::Identifier* id = nullptr;
  if (const toml::node* di = t->get("di")) {
    v.di = static_cast<std::uint32_t>(ck.integer(*di, prefix + ".di", 0, 0xFFFFFFFF));
    id = dlt645::find_identifier(v.di);
    if (!id) ck.bad(di, prefix + ".di", fmt::format("0x{:08X} is not an identifier kwh decodes", v.di));
  } else {
    id = dlt645::find_identifier(name);
    if (!id) ck.bad(&node, prefix + ".di", "missing: kwh knows no DL/T 645 identifier by that name");
    v.di = id->di;
  }
  return v;
}

std::vector<ValueSpec> parse_section(const Checker& ck, const toml::table& root, std::string_view section,
                                     bool is_setting) {
  std::vector<ValueSpec> out;
  const toml::node* node = root.get(section);
  if (!node) return out;
  const auto* t = node->as_table();
  if (!t) ck.bad(node, std::string(section), "expected a table of sections");
  // toml++ keeps keys sorted; a profile's values are listed in the order of the file.
  std::vector<std::pair<std::string_view, const toml::node*>> entries;
  for (const auto& [k, v] : *t) entries.emplace_back(k.str(), &v);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    const auto& sa = a.second->source().begin;
    const auto& sb = b.second->source().begin;
    return std::tie(sa.line, sa.column) < std::tie(sb.line, sb.column);
  });
  for (const auto& [name, v] : entries) out.push_back(parse_value(ck, *v, std::string(section), name, is_setting));
  return out;
}

} // namespace

std::string_view to_string(Table table) {
  switch (table) {
  case Table::coil: return "coil";
  case Table::discrete: return "discrete";
  case Table::holding: return "holding";
  case Table::input: return "input";
  }
  return "?";
}

std::string_view to_string(ValueType type) {
  switch (type) {
  case ValueType::u16: return "u16";
  case ValueType::i16: return "i16";
  case ValueType::u32: return "u32";
  case ValueType::i32: return "i32";
  case ValueType::u64: return "u64";
  case ValueType::i64: return "i64";
  case ValueType::f32: return "f32";
  case ValueType::f64: return "f64";
  }
  return "?";
}

std::string_view to_string(WordOrder order) { return order == WordOrder::big ? "big" : "little"; }

std::optional<Table> parse_table(std::string_view text) {
  for (Table t : {Table::coil, Table::discrete, Table::holding, Table::input})
    if (to_string(t) == text) return t;
  return std::nullopt;
}

std::optional<ValueType> parse_value_type(std::string_view text) {
  for (ValueType t : {ValueType::u16, ValueType::i16, ValueType::u32, ValueType::i32, ValueType::u64, ValueType::i64,
                      ValueType::f32, ValueType::f64})
    if (to_string(t) == text) return t;
  return std::nullopt;
}

int words(ValueType type) {
  switch (type) {
  case ValueType::u16:
  case ValueType::i16: return 1;
  case ValueType::u32:
  case ValueType::i32:
  case ValueType::f32: return 2;
  case ValueType::u64:
  case ValueType::i64:
  case ValueType::f64: return 4;
  }
  return 1;
}

bool is_bit_table(Table table) { return table == Table::coil || table == Table::discrete; }

const ValueSpec* Profile::find(std::string_view value_name) const {
  for (const auto& v : values)
    if (v.name == value_name) return &v;
  return nullptr;
}

const ValueSpec* Profile::find_setting(std::string_view setting_name) const {
  for (const auto& v : settings)
    if (v.name == setting_name) return &v;
  return nullptr;
}

std::string_view to_string(ClockFormat format) {
  switch (format) {
  case ClockFormat::ymdhms: return "ymdhms";
  case ClockFormat::bcd: return "bcd";
  case ClockFormat::unix_seconds: return "unix";
  }
  return "?";
}

int ClockSpec::words() const {
  switch (format) {
  case ClockFormat::ymdhms: return 6;
  case ClockFormat::bcd: return 3;
  case ClockFormat::unix_seconds: return 2;
  }
  return 0;
}

std::optional<bool> RelayStatus::closed(std::uint16_t raw) const {
  const std::uint16_t v = bit ? static_cast<std::uint16_t>((raw >> *bit) & 1u) : raw;
  if (v == on) return true;
  if (v == off) return false;
  return std::nullopt;
}

std::uint16_t RelayStatus::raw(bool closed) const {
  const std::uint16_t v = closed ? on : off;
  return bit ? static_cast<std::uint16_t>(v << *bit) : v;
}

std::optional<bool> Profile::relay_closed(double value) const {
  if (!relay || !relay->status || !std::isfinite(value) || value < 0 || value > 65535) return std::nullopt;
  return relay->status->closed(static_cast<std::uint16_t>(value));
}

const ValueSpec* Profile::total() const { return find(kind == "water" ? "volume_total" : "energy_total"); }

Profile parse_profile(std::string_view toml_text, const std::string& source) {
  Checker ck(source);
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    fail(Exit::config, "profile {}:{}: {}", source, e.source().begin.line, e.description());
  }
  ck.only_keys(root, "", {"name", "kind", "protocol", "word_order", "max_gap", "units", "values", "relay", "settings",
                          "clock", "tariff", "purchase"});

  Profile p;
  p.source = source;
  p.text = std::string(toml_text);

  const toml::node& name_node = ck.required(root, nullptr, "", "name");
  p.name = ck.string(name_node, "name");
  if (!valid_name(p.name, true)) ck.bad(&name_node, "name", "use lower-case letters, digits, '-', '.' and '_'");

  const toml::node& kind_node = ck.required(root, nullptr, "", "kind");
  p.kind = ck.string(kind_node, "kind");
  if (p.kind != "electricity" && p.kind != "water")
    ck.bad(&kind_node, "kind", fmt::format("must be electricity or water, not '{}'", p.kind));

  if (const toml::node* wo = root.get("word_order")) {
    auto s = ck.string(*wo, "word_order");
    if (s == "big") p.word_order = WordOrder::big;
    else if (s == "little") p.word_order = WordOrder::little;
    else ck.bad(wo, "word_order", fmt::format("must be big or little, not '{}'", s));
  }

  if (const toml::node* gap = root.get("max_gap")) p.max_gap = static_cast<int>(ck.integer(*gap, "max_gap", 0, 2000));
  if (const toml::node* units = root.get("units")) p.units = static_cast<int>(ck.integer(*units, "units", 1, k_max_units));

  if (const toml::node* proto = root.get("protocol")) {
    p.protocol = ck.string(*proto, "protocol");
    if (p.protocol != "modbus" && p.protocol != "dlt645")
      ck.bad(proto, "protocol", fmt::format("must be modbus or dlt645, not '{}'", p.protocol));
  }
  if (p.protocol == "dlt645") {
    if (root.get("word_order")) ck.bad(root.get("word_order"), "word_order", "not for DL/T 645 profiles");
    if (root.get("max_gap")) ck.bad(root.get("max_gap"), "max_gap", "not for DL/T 645 profiles");
    if (root.get("units")) ck.bad(root.get("units"), "units", "not for DL/T 645 profiles: their meters have addresses");
    if (root.get("settings")) ck.bad(root.get("settings"), "settings", "not for DL/T 645 profiles (yet)");
    if (const toml::node* vs = root.get("values")) {
      const auto* t = vs->as_table();
      if (!t) ck.bad(vs, "values", "expected a table");
      for (const auto& [k, n] : *t) p.values.push_back(parse_dlt645_value(ck, n, k.str()));
    }
    if (const toml::node* r = root.get("relay")) {
      const auto* t = r->as_table();
      if (!t) ck.bad(r, "relay", "expected a table");
      ck.only_keys(*t, "relay.", {"close"});
      RelaySpec relay;
      if (const toml::node* c = t->get("close")) {
        auto how = ck.string(*c, "relay.close");
        if (how != "direct" && how != "allowed") ck.bad(c, "relay.close", "must be direct or allowed");
        relay.close_allowed = how == "allowed";
      }
      RelayStatus st;
      st.bit = 4;
      st.on = 0;
      st.off = 1;
      relay.status = st;
      p.relay = relay;
      if (p.find(k_relay_status_value))
        ck.bad(nullptr, "values.relay_status", "reserved: the relay state is read from status word 3");
      ValueSpec v;
      v.name = std::string(k_relay_status_value);
      v.di = 0x04000503;
      p.values.push_back(std::move(v));
    }
  } else {
    p.values = parse_section(ck, root, "values", false);
    p.settings = parse_section(ck, root, "settings", true);
    if (const toml::node* r = root.get("relay")) p.relay = parse_relay(ck, *r);
  }
  if (p.protocol == "modbus" && p.relay && p.relay->status) {
    if (p.find(k_relay_status_value))
      ck.bad(nullptr, "values.relay_status", "reserved: [relay.status] says where the relay state is read");
    ValueSpec v;
    v.name = std::string(k_relay_status_value);
    v.table = p.relay->status->table;
    v.address = p.relay->status->address;
    p.values.push_back(std::move(v));
  }

  if (const toml::node* c = root.get("clock")) p.clock = parse_clock(ck, *c, p.protocol == "dlt645");
  if (const toml::node* pu = root.get("purchase")) {
    if (p.protocol == "dlt645") ck.bad(pu, "purchase", "not for DL/T 645 profiles (yet)");
    const auto* t = pu->as_table();
    if (!t) ck.bad(pu, "purchase", "expected a table");
    ck.only_keys(*t, "purchase.", {"table", "address", "type", "decimals"});
    PurchaseSpec spec;
    const toml::node& table_node = ck.required(*t, pu, "purchase.", "table");
    if (ck.string(table_node, "purchase.table") != "holding") ck.bad(&table_node, "purchase.table", "must be holding");
    const toml::node& addr = ck.required(*t, pu, "purchase.", "address");
    spec.address = static_cast<std::uint16_t>(ck.integer(addr, "purchase.address", 0, 65535));
    if (const toml::node* ty = t->get("type")) {
      auto text = ck.string(*ty, "purchase.type");
      if (text == "u16") spec.type = ValueType::u16;
      else if (text == "u32") spec.type = ValueType::u32;
      else ck.bad(ty, "purchase.type", fmt::format("must be u16 or u32, not '{}'", text));
    }
    if (const toml::node* d = t->get("decimals")) spec.decimals = static_cast<int>(ck.integer(*d, "purchase.decimals", 0, 8));
    if (std::uint32_t(spec.address) + std::uint32_t(spec.words()) > 65536)
      ck.bad(&addr, "purchase.address", "the purchase runs past register 65535");
    if (!p.find("meter_balance"))
      ck.bad(pu, "purchase", "a meter that takes purchases keeps a balance: map values.meter_balance too");
    p.purchase = spec;
  }
  if (const toml::node* t = root.get("tariff")) {
    if (p.protocol == "dlt645") ck.bad(t, "tariff", "not for DL/T 645 profiles (yet)");
    p.tariff = parse_tariff_spec(ck, *t);
  }

  const char* total = p.kind == "water" ? "volume_total" : "energy_total";
  if (!p.find(total)) ck.bad(nullptr, fmt::format("values.{}", total), fmt::format("missing: every {} meter needs it", p.kind));
  return p;
}

Profile load_profile_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail(Exit::no_input, "profile {}: no such file", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(Exit::no_input, "profile {}: cannot be read", path);
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > 1024 * 1024) fail(Exit::config, "profile {}: larger than 1 MiB", path);
  return parse_profile(text.str(), path);
}

std::optional<Profile> builtin_profile(std::string_view name) {
  auto text = builtin_profile_text(name);
  if (!text) return std::nullopt;
  return parse_profile(*text, fmt::format("builtin:{}", name));
}

Profile find_profile(std::string_view name_or_path, const std::vector<std::string>& folders) {
  bool is_path = name_or_path.find('/') != std::string_view::npos ||
                 (name_or_path.size() > 5 && name_or_path.substr(name_or_path.size() - 5) == ".toml");
  if (is_path) return load_profile_file(std::string(name_or_path));
  if (name_or_path.empty()) fail(Exit::no_input, "profile '': no such profile");
  if (auto p = builtin_profile(name_or_path)) return std::move(*p);
  for (const auto& folder : folders) {
    auto path = (std::filesystem::path(folder) / (std::string(name_or_path) + ".toml")).string();
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) return load_profile_file(path);
  }
  std::string where = "built-ins";
  for (const auto& f : folders) where += ", " + f;
  fail(Exit::no_input, "profile '{}': no such profile (searched {})", name_or_path, where);
}

std::optional<std::string_view> well_known_unit(std::string_view n) {
  if (n == "energy_total" || n == "energy_sharp" || n == "energy_peak" || n == "energy_flat" || n == "energy_valley")
    return "Wh";
  if (n == "volume_total") return "L";
  if (n == "power_total" || n == "power_a" || n == "power_b" || n == "power_c") return "W";
  if (n == "voltage_a" || n == "voltage_b" || n == "voltage_c") return "V";
  if (n == "current_a" || n == "current_b" || n == "current_c") return "A";
  if (n == "frequency") return "Hz";
  if (n == "power_factor") return "";
  if (n == "meter_balance") return "minor";
  if (n == "purchase_count") return "";
  return std::nullopt;
}

bool is_integer_quantity(std::string_view n) {
  return n.starts_with("energy_") || n.starts_with("volume_") || n == "meter_balance" || n == "purchase_count";
}

} // namespace kwh::modbus
