#pragma once
// The byte stream under a Bus: a TCP socket (Modbus TCP, RTU over TCP) or a serial port (RTU).
// Internal to the transport; the Bus does the framing, timing and checking.

#include <kwh/transport/bus.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <span>

namespace kwh::transport {

class Link {
public:
  using Done = std::function<void(boost::system::error_code)>;
  using ReadDone = std::function<void(boost::system::error_code, std::size_t)>;

  virtual ~Link() = default;
  // Connects (TCP) or opens and configures the port (serial). `done` gets an error when it fails.
  virtual void async_open(Done done) = 0;
  // Writes all of `bytes` (which must stay alive until done).
  virtual void async_write(std::span<const std::uint8_t> bytes, Done done) = 0;
  virtual void async_read_some(std::span<std::uint8_t> into, ReadDone done) = 0;
  // Aborts the operations in flight; they complete with operation_aborted.
  virtual void cancel() = 0;
  virtual void close() = 0;
  virtual bool is_open() const = 0;
  // Whether the other end has closed a connection that looks open (gateways close idle
  // connections); checked without blocking before a request goes out, so that the request
  // goes on a new connection instead of failing.
  virtual bool peer_closed() { return false; }
};

std::unique_ptr<Link> make_link(boost::asio::io_context& io, const GatewaySpec& spec);

} // namespace kwh::transport
