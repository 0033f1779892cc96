#include <kwh/site/issue.hpp>

#include <kwh/storage/database.hpp>
#include <kwh/util/money.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace kwh::site {

namespace {

std::optional<std::uint32_t> number(std::string_view s) {
  int base = 10;
  if (s.starts_with("0x") || s.starts_with("0X")) {
    s.remove_prefix(2);
    base = 16;
  }
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// The register count for `price` with `decimals` (a Price has 4): exact, or an error.
Result<std::int64_t> price_count(Price price, int decimals) {
  std::int64_t v = price.ten_thousandths();
  if (decimals >= Price::k_decimals) {
    for (int i = Price::k_decimals; i < decimals; ++i) v *= 10;
    return v;
  }
  std::int64_t div = 1;
  for (int i = decimals; i < Price::k_decimals; ++i) div *= 10;
  if (v % div != 0)
    return Error(Exit::data, fmt::format("the price {} has more than the {} decimals the meter holds", price.format(), decimals));
  return v / div;
}

} // namespace

Result<std::vector<SwitchPoint>> day_plan(const billing::TariffVersion& v) {
  std::vector<SwitchPoint> out;
  if (v.kind != billing::TariffKind::tou) {
    out.push_back({0, "flat"});
    return out;
  }
  for (const auto& w : v.windows)
    if (w.days != 0x7f)
      return Error(Exit::data, fmt::format("its {} window {}-{} is not every day, and a meter's day plan is the same every day",
                                           w.band, billing::format_minutes(w.from_minute), billing::format_minutes(w.to_minute)));
  // With every window every day, the band of a minute does not depend on the day.
  for (int minute = 0; minute < 24 * 60; ++minute) {
    std::string band = "flat";
    for (const auto& w : v.windows)
      if (w.contains(0, minute)) {
        band = w.band;
        break;
      }
    if (out.empty() || out.back().band != band) out.push_back({minute, band});
  }
  return out;
}

Result<std::vector<RegisterWrite>> tariff_writes(const modbus::TariffSpec& spec, const billing::TariffVersion& v) {
  if (v.kind == billing::TariffKind::tiers) return Error(Exit::data, "monthly tiers cannot be kept by a meter");
  std::vector<RegisterWrite> out;
  auto band_number = [&](const std::string& band) -> std::optional<int> {
    auto it = std::find(spec.bands.begin(), spec.bands.end(), band);
    if (it == spec.bands.end()) return std::nullopt;
    return static_cast<int>(it - spec.bands.begin()) + 1;
  };
  // Every band the version prices must have a place in the meter.
  if (v.kind == billing::TariffKind::tou)
    for (const auto& [band, price] : v.bands)
      if (!band_number(band)) return Error(Exit::data, fmt::format("the meter has no band '{}'", band));
  if (spec.prices) {
    RegisterWrite w{"prices", spec.prices->address, {}};
    const bool wide = spec.prices->type == modbus::ValueType::u32;
    const std::int64_t max = wide ? 0xFFFFFFFFll : 0xFFFFll;
    for (const auto& band : spec.bands) {
      // A band the version does not price costs what "flat" does (the version's default band).
      Price price = v.kind == billing::TariffKind::flat ? v.flat_price
                    : v.bands.count(band)               ? v.bands.at(band)
                                                        : v.band_price("flat");
      auto count = price_count(price, spec.prices->decimals);
      if (!count) return count.error();
      if (*count > max)
        return Error(Exit::data, fmt::format("the price {} does not fit the meter's {} register", price.format(),
                                             wide ? "32-bit" : "16-bit"));
      if (wide) w.words.push_back(static_cast<std::uint16_t>(*count >> 16));
      w.words.push_back(static_cast<std::uint16_t>(*count & 0xFFFF));
    }
    out.push_back(std::move(w));
  }
  if (spec.plan) {
    auto plan = day_plan(v);
    if (!plan) return plan.error();
    if (static_cast<int>(plan->size()) > spec.plan->slots)
      return Error(Exit::data, fmt::format("its day plan has {} switching points and the meter holds {}", plan->size(),
                                           spec.plan->slots));
    RegisterWrite w{"plan", spec.plan->address, {}};
    for (int slot = 0; slot < spec.plan->slots; ++slot) {
      const SwitchPoint& p = (*plan)[std::min<std::size_t>(static_cast<std::size_t>(slot), plan->size() - 1)];
      auto n = band_number(p.band);
      if (!n) return Error(Exit::data, fmt::format("the meter has no band '{}'", p.band));
      for (const auto& field : spec.plan->layout)
        w.words.push_back(static_cast<std::uint16_t>(field == "band" ? *n : field == "minute" ? p.minute % 60 : p.minute / 60));
    }
    out.push_back(std::move(w));
  }
  return out;
}

Result<RegisterWrite> purchase_write(const modbus::PurchaseSpec& spec, std::int64_t amount_minor, int minor_units,
                                     std::int64_t number) {
  std::int64_t count = amount_minor;
  for (int i = minor_units; i < spec.decimals; ++i) count *= 10;
  for (int i = spec.decimals; i < minor_units; ++i) {
    if (count % 10 != 0)
      return Error(Exit::data, fmt::format("{} has more than the {} decimals the meter takes",
                                           format_decimal(amount_minor, minor_units), spec.decimals));
    count /= 10;
  }
  const bool wide = spec.type == modbus::ValueType::u32;
  if (count <= 0 || count > (wide ? 0xFFFFFFFFll : 0xFFFFll))
    return Error(Exit::data, fmt::format("{} does not fit the meter's purchase register", format_decimal(amount_minor, minor_units)));
  if (number < 1 || number > 0xFFFF) return Error(Exit::data, fmt::format("purchase number {} does not fit the meter", number));
  RegisterWrite w{"purchase", spec.address, {}};
  if (wide) w.words.push_back(static_cast<std::uint16_t>(count >> 16));
  w.words.push_back(static_cast<std::uint16_t>(count & 0xFFFF));
  w.words.push_back(static_cast<std::uint16_t>(number));
  return w;
}

std::int64_t next_purchase_number(storage::Database& db, std::int64_t meter_id, std::optional<std::int64_t> reported) {
  const std::string name = fmt::format("purchase meter {}", meter_id);
  std::int64_t last = 0;
  {
    auto st = db.prepare("SELECT value FROM sequences WHERE name = ?1");
    st.bind(1, name);
    if (st.step()) last = st.get_int(0);
  }
  const std::int64_t next = std::max(last, reported.value_or(0)) + 1;
  db.prepare("INSERT INTO sequences(name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = excluded.value")
      .bind_all(name, next)
      .run();
  return next;
}

std::string write_argument(const RegisterWrite& w) {
  std::string s = fmt::format("{}@0x{:04X}=", w.what, w.address);
  for (std::size_t i = 0; i < w.words.size(); ++i) s += fmt::format("{}0x{:04X}", i ? "," : "", w.words[i]);
  return s;
}

std::optional<RegisterWrite> parse_write_argument(std::string_view text) {
  auto at = text.find('@');
  auto eq = text.find('=');
  if (at == std::string_view::npos || eq == std::string_view::npos || eq < at) return std::nullopt;
  RegisterWrite w;
  w.what = std::string(text.substr(0, at));
  auto address = number(text.substr(at + 1, eq - at - 1));
  if (!address || *address > 0xFFFF) return std::nullopt;
  w.address = static_cast<std::uint16_t>(*address);
  std::string_view rest = text.substr(eq + 1);
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto word = number(rest.substr(0, comma));
    if (!word || *word > 0xFFFF) return std::nullopt;
    w.words.push_back(static_cast<std::uint16_t>(*word));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (w.words.empty() || w.words.size() > 123 || std::uint32_t(w.address) + w.words.size() > 65536) return std::nullopt;
  return w;
}

} // namespace kwh::site
