#include <kwh/dlt645/identifiers.hpp>
#include <kwh/modbus/value.hpp>
#include <kwh/modbus/clock.hpp>
#include <kwh/sim/fleet.hpp>

#include <algorithm>
#include <cmath>

namespace kwh::sim {

namespace {

using transport::Failure;
using transport::Function;
using transport::Outcome;
using transport::Request;
using transport::Response;

// The band of each hour of the day (UTC of the simulated clock).
constexpr std::array<Band, 24> k_band_of_hour = {
    Band::valley, Band::valley, Band::valley, Band::valley, Band::valley, Band::valley, // 00-06
    Band::valley, Band::flat,   Band::peak,   Band::peak,   Band::peak,   Band::flat,   // 06-12
    Band::flat,   Band::flat,   Band::flat,   Band::flat,   Band::flat,   Band::peak,   // 12-18
    Band::peak,   Band::sharp,  Band::sharp,  Band::flat,   Band::flat,   Band::valley, // 18-24
};

// Seconds spent in band b from the epoch to t: whole days, then the hours of the last day.
double seconds_in_band(Band b, double t) {
  constexpr double day = 86400;
  double days = std::floor(t / day);
  double rest = t - days * day;
  int per_day = 0;
  double partial = 0;
  for (int h = 0; h < 24; ++h) {
    if (k_band_of_hour[static_cast<std::size_t>(h)] != b) continue;
    ++per_day;
    partial += std::clamp(rest - h * 3600.0, 0.0, 3600.0);
  }
  return days * per_day * 3600.0 + partial;
}

std::uint32_t key(modbus::Table table, std::uint32_t address) { return static_cast<std::uint32_t>(table) << 16 | address; }

Failure exception(std::uint8_t code) { return Failure::exception(code); }

modbus::Table table_of(Function f) {
  switch (f) {
  case Function::read_coils:
  case Function::write_single_coil: return modbus::Table::coil;
  case Function::read_discrete: return modbus::Table::discrete;
  case Function::read_input: return modbus::Table::input;
  default: return modbus::Table::holding;
  }
}

// x rounded down to a whole number of steps (the register's units), so that the total a meter
// shows is exactly the sum of the bands it shows. A step of 0 leaves x as it is.
double floor_to(double x, double step) { return step > 0 ? std::floor(x / step) * step : x; }

// A small fixed variation per meter, from its index (no random state to keep).
double spread(int i, int salt) {
  std::uint32_t h = static_cast<std::uint32_t>(i) * 2654435761u + static_cast<std::uint32_t>(salt) * 40503u;
  h ^= h >> 15;
  h *= 2246822519u;
  h ^= h >> 13;
  return (h % 10000) / 10000.0; // 0..1
}

constexpr std::array<const char*, 4> k_band_names = {"energy_sharp", "energy_peak", "energy_flat", "energy_valley"};

} // namespace

Band band_at(double t) {
  double rest = t - std::floor(t / 86400) * 86400;
  return k_band_of_hour[static_cast<std::size_t>(std::clamp(static_cast<int>(rest / 3600), 0, 23))];
}

Fleet::Fleet(modbus::Profile profile, int meters, double load_w, double speed, UnixTime start, Clock::time_point origin)
    : m_profile(std::move(profile)), m_speed(speed), m_start(start), m_origin(origin) {
  double t0 = sim_time(origin);
  m_meters.resize(static_cast<std::size_t>(std::max(0, meters)));
  for (int i = 0; i < size(); ++i) {
    Meter& m = m_meters[static_cast<std::size_t>(i)];
    m.load_w = load_w * (0.8 + 0.4 * spread(i, 1));
    m.since = t0;
    double base = 100000 + std::floor(spread(i, 2) * 900000); // 100..1000 kWh already on the meter
    m.energy = {base * 0.1, base * 0.3, base * 0.4, base * 0.2};
  }
  for (auto& s : m_span) s = {0xFFFFFFFFu, 0};
  m_tariff = tariff_spans();
  auto cover = [&](modbus::Table t, std::uint32_t from, std::uint32_t to) {
    auto& s = m_span[static_cast<std::size_t>(t)];
    s.first = std::min(s.first, from);
    s.second = std::max(s.second, to);
  };
  for (const auto& v : m_profile.values) cover(v.table, v.address, v.end());
  for (const auto& v : m_profile.settings) cover(v.table, v.address, v.end());
  for (auto [from, to] : tariff_spans()) cover(modbus::Table::holding, from, to);
  if (m_profile.purchase)
    cover(modbus::Table::holding, m_profile.purchase->address,
          m_profile.purchase->address + static_cast<std::uint32_t>(m_profile.purchase->words()));
  if (m_profile.clock && m_profile.protocol == "modbus")
    cover(modbus::Table::holding, m_profile.clock->address,
          m_profile.clock->address + static_cast<std::uint32_t>(m_profile.clock->words()));
  if (m_profile.relay)
    cover(m_profile.relay->table, m_profile.relay->address,
          m_profile.relay->address + static_cast<std::uint32_t>(std::max<std::size_t>(1, m_profile.relay->on.size())));
}

std::vector<std::pair<std::uint32_t, std::uint32_t>> Fleet::tariff_spans() const {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  if (!m_profile.tariff) return out;
  const auto& t = *m_profile.tariff;
  if (t.prices)
    out.emplace_back(t.prices->address, t.prices->address + static_cast<std::uint32_t>(
                                                                modbus::words(t.prices->type) * t.bands.size()));
  if (t.plan) out.emplace_back(t.plan->address, t.plan->address + 3u * static_cast<std::uint32_t>(t.plan->slots));
  return out;
}

UnixTime Fleet::real_time(Clock::time_point at) const {
  return m_start + std::chrono::duration_cast<std::chrono::seconds>(at - m_origin).count();
}

UnixTime Fleet::meter_clock(int index, Clock::time_point at) const {
  return real_time(at) + m_meters.at(static_cast<std::size_t>(index)).clock_drift;
}

void Fleet::set_meter_clock(int index, UnixTime t, Clock::time_point at) {
  m_meters.at(static_cast<std::size_t>(index)).clock_drift = t - real_time(at);
}

void Fleet::set_clock_drift(std::int64_t seconds) {
  for (auto& m : m_meters) m.clock_drift = seconds;
}

double Fleet::sim_time(Clock::time_point at) const {
  return static_cast<double>(m_start) + std::chrono::duration<double>(at - m_origin).count() * m_speed;
}

void Fleet::fold(Meter& m, double t) const {
  if (t <= m.since) return;
  if (m.closed) {
    // Water flows in no band; keep it all in "flat".
    if (m_profile.kind == "water") {
      m.energy[static_cast<std::size_t>(Band::flat)] += m.load_w / 10.0 * (t - m.since) / 3600.0;
    } else {
      for (int b = 0; b < 4; ++b)
        m.energy[static_cast<std::size_t>(b)] +=
            m.load_w * (seconds_in_band(Band(b), t) - seconds_in_band(Band(b), m.since)) / 3600.0;
    }
  }
  m.since = t;
}

std::array<double, 4> Fleet::bands(int index, Clock::time_point at) const {
  Meter m = m_meters.at(static_cast<std::size_t>(index));
  fold(m, sim_time(at));
  return m.energy;
}

double Fleet::total(int index, Clock::time_point at) const {
  auto b = bands(index, at);
  return b[0] + b[1] + b[2] + b[3];
}

void Fleet::schedule_switch(int index, Clock::time_point at, bool closed) {
  auto& s = m_meters.at(static_cast<std::size_t>(index)).switches;
  s.emplace_back(at, closed);
  std::stable_sort(s.begin(), s.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
}

void Fleet::switch_due(Meter& m, Clock::time_point at) {
  while (!m.switches.empty() && m.switches.front().first <= at) {
    fold(m, sim_time(m.switches.front().first));
    m.closed = m.switches.front().second;
    m.switches.erase(m.switches.begin());
  }
}

void Fleet::reset(int index, Clock::time_point at) {
  Meter& m = m_meters.at(static_cast<std::size_t>(index));
  fold(m, sim_time(at));
  m.energy = {};
}

double Fleet::resolution(const modbus::ValueSpec* spec, std::string_view name) const {
  if (m_profile.protocol == "dlt645") {
    const dlt645::Identifier* id = spec && spec->di ? dlt645::find_identifier(spec->di) : dlt645::find_identifier(name);
    return id && id->exponent >= 0 ? std::pow(10.0, id->exponent) : 0;
  }
  if (!spec || spec->type == modbus::ValueType::f32 || spec->type == modbus::ValueType::f64) return 0;
  return spec->scale;
}

std::optional<double> Fleet::value(int index, std::string_view name, Clock::time_point at) {
  Meter& m = m_meters.at(static_cast<std::size_t>(index));
  switch_due(m, at);
  double t = sim_time(at);
  fold(m, t);
  return produce(m, name, m_profile.find(name), t);
}

void Fleet::switch_relay(int index, bool closed, Clock::time_point at) {
  Meter& m = m_meters.at(static_cast<std::size_t>(index));
  switch_due(m, at);
  fold(m, sim_time(at));
  m.closed = closed;
}

bool Fleet::relay_closed(int index, Clock::time_point at) {
  Meter& m = m_meters.at(static_cast<std::size_t>(index));
  switch_due(m, at);
  return m.closed;
}

double Fleet::canonical(const Meter& folded, const modbus::ValueSpec& v, double t) const {
  return produce(folded, v.name, &v, t).value_or(0); // 0 for energy_export, meter_balance and other unknown names
}

std::optional<double> Fleet::produce(const Meter& folded, std::string_view n, const modbus::ValueSpec* spec, double t) const {
  const bool three_phase = m_profile.find("voltage_b") || m_profile.find("power_b") || m_profile.find("current_b");
  const double power = folded.closed ? folded.load_w * (1 + 0.01 * std::sin(t / 300)) : 0;
  auto voltage = [&](int phase) { return 230 + 2 * std::sin(t / 600 + phase * 2.1); };
  auto phase_of = [&](char c) { return c == 'a' ? 0 : c == 'b' ? 1 : 2; };

  if (n == "energy_total" || n == "volume_total" || n == "energy_sum") {
    double sum = 0;
    for (int b = 0; b < 4; ++b) {
      const char* name = k_band_names[static_cast<std::size_t>(b)];
      const modbus::ValueSpec* band = m_profile.find(name);
      sum += floor_to(folded.energy[static_cast<std::size_t>(b)], band ? resolution(band, name) : resolution(spec, name));
    }
    return sum;
  }
  for (int b = 0; b < 4; ++b)
    if (n == k_band_names[static_cast<std::size_t>(b)])
      return floor_to(folded.energy[static_cast<std::size_t>(b)], resolution(spec, n));
  if (n == "power_total") return std::round(power);
  if (n.size() == 7 && n.starts_with("power_")) return std::round(three_phase ? power / 3 : power);
  if (n.size() == 9 && n.starts_with("voltage_")) return voltage(phase_of(n.back()));
  if (n.size() == 9 && n.starts_with("current_")) {
    int p = phase_of(n.back());
    return (three_phase ? power / 3 : power) / voltage(p);
  }
  if (n == "frequency") return 50 + 0.02 * std::sin(t / 97);
  if (n == "power_factor") return folded.closed ? 0.98 : 1.0;
  if (n == modbus::k_relay_status_value && m_profile.relay && m_profile.relay->status)
    return m_profile.relay->status->raw(folded.closed);
  if (m_profile.purchase && n == "purchase_count") return static_cast<double>(folded.purchases);
  if (m_profile.purchase && n == "meter_balance") return own_balance(folded);
  return std::nullopt;
}

double Fleet::own_balance(const Meter& m) const {
  double balance = static_cast<double>(m.credit) * std::pow(10.0, 2 - m_profile.purchase->decimals);
  if (!m.metered_from || !m_profile.tariff || !m_profile.tariff->prices) return std::floor(balance);
  const auto& tariff = *m_profile.tariff;
  const int width = modbus::words(tariff.prices->type);
  for (std::size_t i = 0; i < tariff.bands.size(); ++i) {
    // The price of the band as issued, from the words written to the meter.
    std::uint32_t count = 0;
    for (int w = 0; w < width; ++w) {
      auto it = m.written.find(key(modbus::Table::holding, tariff.prices->address + static_cast<std::uint32_t>(i) * width + w));
      count = count << 16 | (it == m.written.end() ? 0 : it->second);
    }
    const std::string band = "energy_" + tariff.bands[i];
    for (std::size_t b = 0; b < 4; ++b)
      if (band == k_band_names[b])
        balance -= (m.energy[b] - (*m.metered_from)[b]) / 1000.0 * count / std::pow(10.0, tariff.prices->decimals) * 100.0;
  }
  return std::floor(balance);
}

std::optional<std::vector<std::uint16_t>> Fleet::read_words(const Meter& m, modbus::Table table, std::uint16_t address,
                                                            std::uint16_t count, double t, UnixTime real) const {
  auto span = m_span[static_cast<std::size_t>(table)];
  if (address < span.first || std::uint32_t(address) + count > span.second) return std::nullopt;
  std::vector<std::uint16_t> words(count, 0);
  std::uint32_t end = std::uint32_t(address) + count;
  auto place = [&](std::uint32_t at, const std::vector<std::uint16_t>& w) {
    for (std::size_t i = 0; i < w.size(); ++i)
      if (at + i >= address && at + i < end) words[at + i - address] = w[i];
  };
  // The relay's control words first: where a profile reads the relay's state in the same
  // registers ([relay.status]), the state the meter reports wins.
  if (m_profile.relay && m_profile.relay->table == table) place(m_profile.relay->address, m.closed ? m_profile.relay->on : m_profile.relay->off);
  for (const auto& v : m_profile.values) {
    if (v.table != table || v.end() <= address || v.address >= end) continue;
    double c = canonical(m, v, t);
    if (modbus::is_bit_table(table))
      place(v.address, {static_cast<std::uint16_t>(c != 0)});
    else
      place(v.address, modbus::encode(v, c, m_profile.word_order)); // throws when it does not fit: exception 4
  }
  if (m_profile.clock && table == modbus::Table::holding) {
    // The meter's clock, as the profile lays it out (real time plus the meter's drift).
    auto clock = modbus::encode_clock(*m_profile.clock, m_profile.word_order, real + m.clock_drift);
    if (clock) place(m_profile.clock->address, *clock);
  }
  for (std::uint32_t a = address; a < end; ++a) {
    auto it = m.written.find(key(table, a));
    if (it != m.written.end()) words[a - address] = it->second;
  }
  return words;
}

Outcome<Response> Fleet::write(Meter& m, const Request& req, double t, UnixTime real) {
  const auto& relay = m_profile.relay;
  modbus::Table table = table_of(req.function);
  if (relay && relay->table == table && req.address == relay->address) {
    bool on = req.values == relay->on, off = req.values == relay->off;
    if (!on && !off) return exception(3);
    fold(m, t);
    m.closed = on;
    return Response{};
  }
  if (m_profile.purchase && table == modbus::Table::holding && req.address == m_profile.purchase->address) {
    // A purchase: the amount, then its number, which must follow the last one taken.
    const auto& p = *m_profile.purchase;
    if (static_cast<int>(req.values.size()) != p.words()) return exception(3);
    std::int64_t amount = 0;
    for (std::size_t i = 0; i + 1 < req.values.size(); ++i) amount = amount << 16 | req.values[i];
    if (req.values.back() != m.purchases + 1) return exception(3);
    fold(m, t);
    if (!m.metered_from) m.metered_from = m.energy;
    m.purchases = req.values.back();
    m.credit += amount;
    for (std::size_t i = 0; i < req.values.size(); ++i)
      m.written[key(table, req.address + static_cast<std::uint32_t>(i))] = req.values[i];
    return Response{};
  }
  if (m_profile.clock && table == modbus::Table::holding && req.address == m_profile.clock->address) {
    // The clock is written whole; a time that does not exist is refused.
    auto when = modbus::decode_clock(*m_profile.clock, m_profile.word_order, req.values);
    if (!when) return exception(3);
    m.clock_drift = *when - real;
    return Response{};
  }
  // Every register written must belong to a setting.
  for (std::size_t i = 0; i < req.values.size(); ++i) {
    std::uint32_t a = std::uint32_t(req.address) + i;
    bool known = std::any_of(m_profile.settings.begin(), m_profile.settings.end(), [&](const modbus::ValueSpec& s) {
                   return s.table == table && a >= s.address && a < s.end();
                 }) ||
                 (table == modbus::Table::holding && std::any_of(m_tariff.begin(), m_tariff.end(), [&](auto span) {
                    return a >= span.first && a < span.second;
                  }));
    if (!known) return exception(2);
  }
  for (std::size_t i = 0; i < req.values.size(); ++i) m.written[key(table, req.address + static_cast<std::uint32_t>(i))] = req.values[i];
  return Response{};
}

Outcome<Response> Fleet::handle(int index, const Request& req, Clock::time_point at) {
  if (index < 0 || index >= size()) return exception(11);
  Meter& m = m_meters[static_cast<std::size_t>(index)];
  switch_due(m, at);
  double t = sim_time(at);
  if (!transport::is_read(req.function)) return write(m, req, t, real_time(at));
  fold(m, t);
  std::optional<std::vector<std::uint16_t>> words;
  try {
    words = read_words(m, table_of(req.function), req.address, req.count, t, real_time(at));
  } catch (const Error&) {
    return exception(4); // a value the register type cannot hold (e.g. --load-w beyond an i16)
  }
  if (!words) return exception(2);
  Response r;
  if (req.function == Function::read_coils || req.function == Function::read_discrete)
    for (auto w : *words) r.bits.push_back(w != 0);
  else
    r.words = std::move(*words);
  return r;
}

} // namespace kwh::sim
