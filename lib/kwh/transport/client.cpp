#include <kwh/transport/client.hpp>

#include <optional>

namespace kwh::transport {

Client::Client(GatewaySpec spec) : m_bus(make_bus(m_io, std::move(spec))) {}

Client::~Client() = default;

Outcome<Response> Client::call(const Request& req) {
  std::optional<Outcome<Response>> result;
  m_bus->submit(req, [&result](Outcome<Response> o) { result.emplace(std::move(o)); });
  m_io.restart();
  while (!result && m_io.run_one() > 0) {
  }
  if (!result) return Failure::lost("request did not complete");
  return std::move(*result);
}

namespace {

template <typename T, typename F> Outcome<T> map(Outcome<Response> o, F f) {
  if (!o.ok()) return o.failure();
  return f(*o);
}

} // namespace

Outcome<std::vector<std::uint16_t>> Client::read_holding(std::uint8_t unit, std::uint16_t address, std::uint16_t count) {
  return map<std::vector<std::uint16_t>>(call(Request::read_holding(unit, address, count)), [](Response& r) { return std::move(r.words); });
}
Outcome<std::vector<std::uint16_t>> Client::read_input(std::uint8_t unit, std::uint16_t address, std::uint16_t count) {
  return map<std::vector<std::uint16_t>>(call(Request::read_input(unit, address, count)), [](Response& r) { return std::move(r.words); });
}
Outcome<std::vector<bool>> Client::read_coils(std::uint8_t unit, std::uint16_t address, std::uint16_t count) {
  return map<std::vector<bool>>(call(Request::read_coils(unit, address, count)), [](Response& r) { return std::move(r.bits); });
}
Outcome<std::vector<bool>> Client::read_discrete(std::uint8_t unit, std::uint16_t address, std::uint16_t count) {
  return map<std::vector<bool>>(call(Request::read_discrete(unit, address, count)), [](Response& r) { return std::move(r.bits); });
}
Outcome<Response> Client::write_register(std::uint8_t unit, std::uint16_t address, std::uint16_t value) {
  return call(Request::write_register(unit, address, value));
}
Outcome<Response> Client::write_registers(std::uint8_t unit, std::uint16_t address, std::vector<std::uint16_t> values) {
  return call(Request::write_registers(unit, address, std::move(values)));
}
Outcome<Response> Client::write_coil(std::uint8_t unit, std::uint16_t address, bool on) {
  return call(Request::write_coil(unit, address, on));
}

} // namespace kwh::transport
