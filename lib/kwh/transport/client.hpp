#pragma once
// The synchronous facade over a bus for the CLI (`kwh meter read --direct`, `kwh gateway test`,
// `kwh relay ... --direct`): each call runs a private io_context until its request completes.
// The bus is the one make_bus() picks for the gateway (Bus, or RtuLibmodbusBus for a serial line
// with RTS direction control). Failures are still values; use to_error() (failure.hpp) to report
// one.

#include <kwh/transport/bus.hpp>

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace kwh::transport {

class Client {
public:
  explicit Client(GatewaySpec spec);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Outcome<Response> call(const Request& req);

  Outcome<std::vector<std::uint16_t>> read_holding(std::uint8_t unit, std::uint16_t address, std::uint16_t count);
  Outcome<std::vector<std::uint16_t>> read_input(std::uint8_t unit, std::uint16_t address, std::uint16_t count);
  Outcome<std::vector<bool>> read_coils(std::uint8_t unit, std::uint16_t address, std::uint16_t count);
  Outcome<std::vector<bool>> read_discrete(std::uint8_t unit, std::uint16_t address, std::uint16_t count);
  Outcome<Response> write_register(std::uint8_t unit, std::uint16_t address, std::uint16_t value);
  Outcome<Response> write_registers(std::uint8_t unit, std::uint16_t address, std::vector<std::uint16_t> values);
  Outcome<Response> write_coil(std::uint8_t unit, std::uint16_t address, bool on);

  BusBase& bus() { return *m_bus; }

private:
  boost::asio::io_context m_io;
  std::unique_ptr<BusBase> m_bus; // destroyed before m_io
};

} // namespace kwh::transport
