#pragma once
// One Bus per gateway: the path to a bus of meters (Modbus TCP, RTU framed on a raw TCP socket,
// or RTU on a local serial port). A bus carries one request at a time: requests queue, each
// waits for the gateway's silent gap after the previous one, and each gets the gateway's
// response timeout. Asynchronous on Boost.Asio for the daemon (many buses on one io_context);
// Client (client.hpp) is the synchronous facade for the CLI.
//
// Late replies: over Modbus TCP every reply's transaction id is checked and stale frames are
// dropped; over RTU (no ids) a timeout or a bad frame makes the bus drain its input until it
// has been quiet for the response timeout before the next request goes out, and each reply's
// unit, function, length and CRC are checked. A reply is never taken for another request's.
//
// Connections open on the first request and again on the first request after they dropped;
// a failed connect fails that request (connection_refused). The daemon decides when to try
// again (backoff) from status().

#include <kwh/transport/failure.hpp>
#include <kwh/transport/frame.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace kwh::transport {

enum class Kind { tcp, rtu_over_tcp, rtu_serial };
enum class Parity { none, even, odd };
// What the frames on the bus are: Modbus, or DL/T 645-2007 (lib/kwh/dlt645/; over a raw TCP
// socket to a serial server, or a local serial port).
enum class Protocol { modbus, dlt645 };
// RS-485 direction control by RTS, for adapters without automatic direction: RTS raised while
// sending ("up") or lowered ("down"); none: the adapter switches by itself.
enum class Rts { none, up, down };

const char* kind_name(Kind kind); // "tcp", "rtu-over-tcp", "rtu"
Result<Kind> parse_kind(const std::string& text);
Result<Parity> parse_parity(const std::string& text); // "N", "E", "O" (any case)
char parity_letter(Parity p);

// How to reach a gateway (the columns of the gateways table).
struct GatewaySpec {
  std::string name;
  Kind kind = Kind::tcp;
  std::string address; // "host:port" (tcp, rtu_over_tcp) or a device path (rtu_serial)
  unsigned baud = 9600;
  Parity parity = Parity::none;
  unsigned stop_bits = 1;
  std::chrono::milliseconds timeout{500};         // response timeout per request
  std::chrono::milliseconds gap{0};               // silence between the end of one request and the next
                                                  // (on a serial line at least 3.5 character times)
  std::chrono::milliseconds connect_timeout{3000}; // TCP connect
  Protocol protocol = Protocol::modbus;
  Rts rts = Rts::none;                            // serial only
  std::chrono::microseconds rts_delay{0};          // before and after sending, with rts

  // "tcp 127.0.0.1:502" or "rtu /dev/ttyUSB0 9600 8E1", for logs.
  std::string describe() const;
};

// Splits "host:port"; Error(usage) when it is not one.
Result<std::pair<std::string, std::uint16_t>> parse_host_port(const std::string& text);

// What the poller and the Client need of a bus. Two implement it: Bus below, kwh's own on
// Boost.Asio, and RtuLibmodbusBus (rtu_libmodbus.hpp), libmodbus's RTU backend on a thread of its
// own, for serial lines whose RS-485 direction kwh drives by RTS. make_bus() picks one.
class BusBase {
public:
  using Handler = std::function<void(Outcome<Response>)>;

  // What the daemon needs to schedule, back off and report.
  struct Status {
    bool connected = false;
    unsigned consecutive_failures = 0; // requests failed in a row (any kind); 0 after a success
    unsigned consecutive_connect_failures = 0;
    std::uint64_t requests = 0, failures = 0, timeouts = 0, stale_frames_dropped = 0, reconnects = 0;
    std::size_t queued = 0; // waiting, not counting the one on the bus
  };

  virtual ~BusBase() = default;

  // Queues a request; `done` is called exactly once, from the io_context, with the validated
  // response or a Failure (never with made-up values). Requests go out in submission order.
  virtual void submit(Request req, Handler done) = 0;

  // Drops the connection (the next request reconnects); requests still queued and the one on
  // the bus complete with connection_lost.
  virtual void close() = 0;

  virtual Status status() const = 0;
  virtual const GatewaySpec& spec() const = 0;
};

class Bus final : public BusBase {
public:
  Bus(boost::asio::io_context& io, GatewaySpec spec);
  // Closes the connection; requests still queued complete with connection_lost.
  ~Bus() override;
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  void submit(Request req, Handler done) override;
  // Drops the connection now; the request on the bus is cancelled.
  void close() override;
  Status status() const override;
  const GatewaySpec& spec() const override;

private:
  class Impl;
  std::shared_ptr<Impl> m_impl;
};

// Whether a gateway's bus runs on libmodbus: Modbus RTU on a local serial port with RTS
// direction control (spec.rts != Rts::none); everything else runs on Bus.
bool uses_libmodbus(const GatewaySpec& spec);

// The bus for a gateway: RtuLibmodbusBus when uses_libmodbus(spec), Bus otherwise. (Defined in
// rtu_libmodbus.cpp, which knows both.)
std::unique_ptr<BusBase> make_bus(boost::asio::io_context& io, GatewaySpec spec);

} // namespace kwh::transport
