#pragma once
// Modbus RTU on a local serial port through libmodbus's RTU backend, for RS-485 adapters that
// do not switch the line's direction by themselves: kwh raises (or lowers) RTS while it sends,
// as `kwh gateway add --rtu DEVICE --rts up|down [--rts-delay-us N]` asks. make_bus() (bus.hpp)
// picks this bus for such a gateway; Bus carries every other.
//
// libmodbus blocks, so each bus has a worker thread of its own that owns the libmodbus context:
// requests queue in submission order, the thread sends them one at a time after the gateway's
// gap (and the line's 3.5 character times), and each outcome is posted back to the io_context.
// The bus holds the io_context's work while a request is pending, so that a Client's private
// io_context waits for it.
//
// Timing: the whole reply must arrive within the gateway's response timeout (libmodbus's byte
// timeout is off). After a timeout or a bad frame a late reply may still be on its way, so the
// next request first waits for the line to be quiet for a response timeout (at most five),
// reading and dropping what comes, as Bus does.
//
// Errors are the transport's Failure kinds: a Modbus exception reply is exception(code); no reply
// in time is timeout; a reply libmodbus finds corrupt (CRC, length, unit, data) is bad_frame;
// a port that cannot be opened, or whose RTS line cannot be driven (a pty has no modem-control
// lines), is connection_refused with one line naming the device and the reason; other I/O
// errors are connection_lost, and the next request opens the port again.
//
// RTS: after opening, the port is put in the kernel's RS-485 mode where its driver has one
// (TIOCSRS485; most USB adapters and every pty have none, which is fine), and libmodbus drives
// RTS around each request with the gateway's delay. libmodbus's own RTS function ignores the
// ioctl's errors, so kwh gives it one that records them: a port whose RTS cannot be set is
// refused at once rather than sending with the line's direction unknown.
//
// Closing never blocks on the line: what is queued completes with connection_lost at once, and
// the request on the line (which libmodbus cannot abandon) completes with connection_lost when
// its response timeout is over at the latest. Destruction joins the thread, which waits at most
// for that request.

#include <kwh/transport/bus.hpp>

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>

namespace kwh::transport {

class RtuLibmodbusBus final : public BusBase {
public:
  // Sets the RTS line of the open port `fd` high (`raised`) or low; false with errno set when
  // it cannot. The default uses the modem-control ioctls (TIOCMBIS, TIOCMBIC); tests on a pty,
  // which has no RTS line, give their own to see what libmodbus does with it.
  using RtsLine = std::function<bool(int fd, bool raised)>;

  // Any serial Modbus spec, whatever its rts (Rts::none sends without touching RTS: the tests
  // run libmodbus's path on a pty that way). Nothing is opened before the first request.
  RtuLibmodbusBus(boost::asio::io_context& io, GatewaySpec spec, RtsLine rts_line = {});
  // Completes what is queued with connection_lost, and joins the thread.
  ~RtuLibmodbusBus() override;
  RtuLibmodbusBus(const RtuLibmodbusBus&) = delete;
  RtuLibmodbusBus& operator=(const RtuLibmodbusBus&) = delete;

  void submit(Request req, Handler done) override;
  void close() override;
  Status status() const override;
  const GatewaySpec& spec() const override;

private:
  class Impl;
  std::unique_ptr<Impl> m_impl;
};

} // namespace kwh::transport
