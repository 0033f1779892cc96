#include <kwh/crypto/hmac.hpp>
#include <kwh/dlt645/identifiers.hpp>
#include <kwh/sim/dlt645_server.hpp>

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <string_view>

namespace kwh::sim {

namespace {

using dlt645::Control;
using dlt645::Frame;
using dlt645::Function;

// The data of a relay control request: PA P0 P1 P2, C0..C3, N1, N2, N3..N8.
constexpr std::size_t k_relay_data = 16;
constexpr std::size_t k_relay_action = 8;

std::string_view bytes_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The number the meter writes for `value` (in the canonical unit): 230.4 V is 2304 for XXX.X.
std::int64_t raw_of(const dlt645::Identifier& id, double value) {
  return id.exponent >= 0 ? std::llround(value / std::pow(10.0, id.exponent))
                          : std::llround(value * std::pow(10.0, -id.exponent));
}

Frame read(Fleet& fleet, int index, const dlt645::Address& self, const Frame& request, Fleet::Clock::time_point at) {
  if (request.data.size() < 4) return dlt645::error_reply(self, Function::read_data, dlt645::k_error_other);
  std::uint32_t di = 0;
  for (std::size_t i = 4; i-- > 0;) di = di << 8 | request.data[i];
  const dlt645::Identifier* id = dlt645::find_identifier(di);
  if (!id) return dlt645::error_reply(self, Function::read_data, dlt645::k_error_no_data);
  std::int64_t raw = 0;
  if (id->name == "status_word_3") {
    raw = fleet.relay_closed(index, at) ? 0 : dlt645::k_status3_relay_off;
  } else if (id->name == "clock_date" || id->name == "clock_time") {
    const LocalTime l = to_local(fleet.meter_clock(index, at));
    raw = id->name == "clock_date" ? ((l.year % 100) * 10000 + l.month * 100 + l.day) * 100 + l.weekday
                                   : (l.hour * 100 + l.minute) * 100 + l.second;
  } else {
    auto value = fleet.value(index, id->name, at);
    if (!value) return dlt645::error_reply(self, Function::read_data, dlt645::k_error_no_data);
    raw = raw_of(*id, *value);
  }
  auto bytes = dlt645::encode_value(*id, raw);
  // A value the format cannot hold (a --load-w beyond XX.XXXX kW): the meter's "other error".
  if (!bytes) return dlt645::error_reply(self, Function::read_data, dlt645::k_error_other);
  return dlt645::read_reply(self, di, *bytes);
}

Frame relay(Fleet& fleet, int index, const dlt645::Address& self, const Frame& request,
            const std::array<std::uint8_t, 4>& password, Fleet::Clock::time_point at) {
  if (request.data.size() != k_relay_data) return dlt645::error_reply(self, Function::relay_control, dlt645::k_error_other);
  if (!crypto::equal(bytes_of(request.data.data(), password.size()), bytes_of(password.data(), password.size())))
    return dlt645::error_reply(self, Function::relay_control, dlt645::k_error_unauthorised);
  switch (static_cast<dlt645::RelayAction>(request.data[k_relay_action])) {
  case dlt645::RelayAction::trip: fleet.switch_relay(index, false, at); break;
  case dlt645::RelayAction::close_allowed:
  case dlt645::RelayAction::close: fleet.switch_relay(index, true, at); break;
  case dlt645::RelayAction::alarm_on:
  case dlt645::RelayAction::alarm_off:
  case dlt645::RelayAction::protect_on:
  case dlt645::RelayAction::protect_off: break;
  default: return dlt645::error_reply(self, Function::relay_control, dlt645::k_error_other);
  }
  return {self, Control::reply(Function::relay_control), {}};
}

} // namespace

void dlt645_broadcast_time(Fleet& fleet, int first, int count, const dlt645::Frame& request,
                           Fleet::Clock::time_point at) {
  // ss mm hh DD MM YY, BCD.
  if (request.data.size() != 6) return;
  int f[6];
  for (std::size_t i = 0; i < 6; ++i) {
    auto v = dlt645::decode_bcd(std::span<const std::uint8_t>(&request.data[i], 1));
    if (!v) return;
    f[i] = static_cast<int>(*v);
  }
  if (f[4] < 1 || f[4] > 12 || f[3] < 1 || f[3] > 31 || f[2] > 23 || f[1] > 59 || f[0] > 59) return;
  const UnixTime t = from_local(2000 + f[5], f[4], f[3], f[2], f[1], f[0]);
  for (int i = first; i < first + count; ++i) {
    const UnixTime own = fleet.meter_clock(i, at);
    if (std::abs(t - own) <= k_broadcast_window) fleet.set_meter_clock(i, t, at);
  }
}

dlt645::Address dlt645_address(int index) {
  auto address = dlt645::Address::parse(fmt::format("{:012}", index + 1));
  if (!address) throw address.error();
  return *address;
}

std::optional<int> dlt645_addressee(const dlt645::Frame& request, int first, int count) {
  const auto& to = request.address;
  if (!to.has_wildcard()) {
    // Twelve decimal digits: the meter's number.
    const std::string digits = to.format();
    long long m = std::stoll(digits);
    if (m >= first + 1 && m <= static_cast<long long>(first) + count) return static_cast<int>(m - 1);
    return std::nullopt;
  }
  std::optional<int> found;
  for (int i = first; i < first + count; ++i) {
    if (!to.matches(dlt645_address(i))) continue;
    if (found) return std::nullopt; // two meters would answer at once: nothing readable
    found = i;
  }
  return found;
}

std::optional<dlt645::Frame> dlt645_answer(Fleet& fleet, int index, const dlt645::Frame& request,
                                           const std::array<std::uint8_t, 4>& password, Fleet::Clock::time_point at) {
  if (request.control.from_meter()) return std::nullopt; // another meter's reply on the bus
  const dlt645::Address self = dlt645_address(index);
  switch (request.control.function()) {
  case Function::read_data: return read(fleet, index, self, request, at);
  case Function::relay_control: return relay(fleet, index, self, request, password, at);
  case Function::read_address:
    return Frame{self, Control::reply(Function::read_address), {self.wire().begin(), self.wire().end()}};
  case Function::broadcast_time: return std::nullopt;
  default: return dlt645::error_reply(self, request.control.function(), dlt645::k_error_other);
  }
}

} // namespace kwh::sim
