#pragma once
// The simulated meters behind `kwh sim`: their state and how they answer Modbus requests, with
// the register map of a profile (encoded by modbus::encode, so every profile can be simulated).
// The DL/T 645 side (dlt645_server.hpp) asks for values by name instead (value(), switch_relay()).
//
// Nothing ticks: a meter keeps its counters at the last time something changed (a relay write, a
// reset) and computes them for the moment it is read, so thousands of meters cost nothing while
// idle. Simulated time runs `speed` times faster than the wall clock from the start.
//
// Electricity: energy grows at the meter's load (the --load-w of the fleet, varied per meter by
// up to ±20 %) while the relay is closed, not at all while it is open. Per-band registers grow
// by the simulated time of day (valley 23:00-07:00, peak 08:00-11:00 and 17:00-19:00, sharp
// 19:00-21:00, flat otherwise, UTC), and energy_total is exactly the sum of the bands as shown,
// each floored to the resolution the profile shows it in (a Modbus register's scale, 0.01 kWh
// for a DL/T 645 identifier). Water: volume grows at load-w / 10 litres per hour (200 L/h for
// the default).

#include <kwh/modbus/profile.hpp>
#include <kwh/transport/frame.hpp>
#include <kwh/util/time.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

namespace kwh::sim {

enum class Band { sharp = 0, peak = 1, flat = 2, valley = 3 };
Band band_at(double sim_unix_seconds);

class Fleet {
public:
  using Clock = std::chrono::steady_clock;

  // `start` is the simulated (and real) Unix time at the steady-clock instant `origin`.
  Fleet(modbus::Profile profile, int meters, double load_w, double speed, UnixTime start, Clock::time_point origin);

  int size() const { return static_cast<int>(m_meters.size()); }
  const modbus::Profile& profile() const { return m_profile; }
  double sim_time(Clock::time_point at) const;

  // Answers one request to meter `index` (0-based) at `at`: the response, or a Failure whose
  // exception_code is the Modbus exception to reply with (1 illegal function, 2 illegal data
  // address, 3 illegal data value, 4 device failure).
  transport::Outcome<transport::Response> handle(int index, const transport::Request& req, Clock::time_point at);

  // The relay of meter `index` switches by itself (no command) at `at`: closed or open.
  void schedule_switch(int index, Clock::time_point at, bool closed);

  // Counters back to 0 (the reset fault, a meter swap).
  void reset(int index, Clock::time_point at);

  // The value `name` of meter `index` at `at`, by the names the profiles use (energy_total,
  // energy_peak, voltage_a, current_b, power_total, power_factor, frequency...), in the
  // canonical unit (Wh, V, A, W, Hz) as the Modbus side computes it; nullopt for a name the
  // simulator does not produce (meter_balance, ...). Carries out the switches due by `at`.
  std::optional<double> value(int index, std::string_view name, Clock::time_point at);
  // The relay of meter `index` switched by a command at `at`: closed (power flows) or open.
  void switch_relay(int index, bool closed, Clock::time_point at);
  // The relay's state at `at`, after the switches due by then.
  bool relay_closed(int index, Clock::time_point at);

  // The meter's own clock at `at` ([clock] of the profile; DL/T 645 date and time): the real
  // time, not the simulated one, plus the meter's drift. Every meter starts `drift` seconds off
  // (set_clock_drift); setting the clock (a write of the [clock] registers, a DL/T 645 broadcast)
  // makes it right.
  UnixTime meter_clock(int index, Clock::time_point at) const;
  void set_meter_clock(int index, UnixTime t, Clock::time_point at);
  void set_clock_drift(std::int64_t seconds);

  // For tests and diagnostics.
  bool relay_closed(int index) const { return m_meters.at(static_cast<std::size_t>(index)).closed; }
  // Energy in Wh (volume in L) per band, and their sum, at `at`.
  std::array<double, 4> bands(int index, Clock::time_point at) const;
  double total(int index, Clock::time_point at) const;
  double load_w(int index) const { return m_meters.at(static_cast<std::size_t>(index)).load_w; }

private:
  struct Meter {
    double load_w = 0;
    bool closed = true;
    double since = 0;                 // simulated time the counters below were taken at
    std::array<double, 4> energy{};   // Wh (or L) per band at `since`
    std::map<std::uint32_t, std::uint16_t> written; // (table << 16 | address) -> word, for settings and relay readback
    std::vector<std::pair<Clock::time_point, bool>> switches; // scheduled, in time order
    std::int64_t clock_drift = 0;     // seconds the meter's clock is ahead of the real time
    // [purchase]: the last purchase number taken, the purchases' sum (in the register's
    // decimals), and the energy per band at the first purchase (its balance counts down from there).
    std::int64_t purchases = 0;
    std::int64_t credit = 0;
    std::optional<std::array<double, 4>> metered_from;
  };
  // A meter's own balance in minor units (2 decimals): its purchases less the energy since the
  // first one at the band prices issued to it ([tariff.prices]; none issued: free).
  double own_balance(const Meter& m) const;
  // The registers a [tariff] names (prices, plan): written and read back like settings.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> tariff_spans() const;
  // The real Unix time at `at`.
  UnixTime real_time(Clock::time_point at) const;

  void fold(Meter& m, double t) const;
  // Carries out the scheduled switches due by `at`.
  void switch_due(Meter& m, Clock::time_point at);
  double canonical(const Meter& m, const modbus::ValueSpec& v, double t) const;
  // The value `name` of a folded meter; `spec` is the profile's value of that name, if any.
  std::optional<double> produce(const Meter& m, std::string_view name, const modbus::ValueSpec* spec, double t) const;
  // The step energy `spec` (or, without one, the value `name`) is shown in; 0: not floored.
  double resolution(const modbus::ValueSpec* spec, std::string_view name) const;
  // The words of `table` from `address`, count long, or nullopt when outside the map.
  std::optional<std::vector<std::uint16_t>> read_words(const Meter& m, modbus::Table table, std::uint16_t address,
                                                       std::uint16_t count, double t, UnixTime real) const;
  transport::Outcome<transport::Response> write(Meter& m, const transport::Request& req, double t, UnixTime real);

  modbus::Profile m_profile;
  double m_speed;
  UnixTime m_start;
  Clock::time_point m_origin;
  std::vector<Meter> m_meters;
  // Per table: the span of addresses the profile maps; reads inside it are answered (gaps as 0).
  std::array<std::pair<std::uint32_t, std::uint32_t>, 4> m_span{};
  std::vector<std::pair<std::uint32_t, std::uint32_t>> m_tariff; // tariff_spans()
};

} // namespace kwh::sim
