#pragma once
// The network side of `kwh sim`: K listening ports (gateways) on one Asio thread, serving the
// Fleet's meters over Modbus TCP (or RTU framed on TCP), or as DL/T 645-2007 meters behind
// transparent serial servers (raw TCP; dlt645_server.hpp), with faults injected.
//
// Meters are dealt to gateways in blocks: with N meters and K gateways each gateway serves
// ceil(N/K) meters (the last one the rest) as units 1, 2, ... on its own port, the ports being
// consecutive from the --listen port. Meter m (1-based, across all gateways) is unit
// ((m-1) mod ceil(N/K)) + 1 on gateway (m-1) div ceil(N/K). A unit that is not there gets
// exception 11 (gateway target failed to respond) over Modbus TCP, and no reply over RTU.
// Over DL/T 645 meter m has the address format("{:012}", m) on the same gateway; a frame for an
// address that is not on the gateway gets no reply.
//
// A profile whose meters occupy several units (`units = 3`, the three-phase circuits of an
// ADF400L) spaces them out: the i-th meter of a gateway (0-based) is unit i × units + 1, so
// 1, 4, 7, ...; the units in between are not there.

#include <kwh/modbus/profile.hpp>
#include <kwh/sim/faults.hpp>
#include <kwh/sim/fleet.hpp>
#include <kwh/transport/bus.hpp>

#include <boost/asio/io_context.hpp>

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace kwh::sim {

struct Options {
  int meters = 20;
  int gateways = 1;
  std::string host = "127.0.0.1";
  std::uint16_t port = 15020; // 0: any free ports (still consecutive)
  modbus::Profile profile;
  double speed = 1;
  double load_w = 2000;
  Faults faults;
  // Modbus (the profile's protocol must be "modbus") or DL/T 645 (a "dlt645" profile).
  transport::Protocol protocol = transport::Protocol::modbus;
  bool rtu_over_tcp = false; // Modbus only
  // DL/T 645: the password PA P0 P1 P2 relay control must carry, in the order sent.
  std::array<std::uint8_t, 4> password{0x02, 0x00, 0x00, 0x00};
  unsigned seed = 1; // for the random faults
  // Seconds every meter's clock is off at the start (+ ahead, - behind), for time sync.
  std::int64_t clock_drift = 0;
};

// Checks the options (meters per gateway at most 247 for Modbus, speed > 0, a profile of the
// protocol served ...); Error(usage) if not.
void check(const Options& options);

// What the simulator did to the requests it was sent, for tests that must show a fault happened.
struct FaultCounts {
  std::uint64_t requests = 0;   // requests for a meter that is there
  std::uint64_t dropped = 0;    // no reply (drop)
  std::uint64_t silent = 0;     // no reply: the silent gateway, or the flapping meter while it is away
  std::uint64_t late = 0;       // replied late-by after the reply was due
  std::uint64_t exceptions = 0; // exception replies injected (DL/T 645: error replies, "other error")
  std::uint64_t garbage = 0;    // random bytes instead of the reply
  std::uint64_t resets = 0;     // counters reset
};

class Server {
public:
  // Binds every port (Error(unavailable) naming the port when one is taken) and starts serving
  // on `io`; run the io_context to serve.
  Server(boost::asio::io_context& io, Options options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  const std::vector<std::uint16_t>& ports() const;
  // "kwh sim: 20 meters on 127.0.0.1:15020-15021 (acrel-ddsy1352, speed 60, 10 units per gateway)";
  // with a profile of 3 units per meter "... (acrel-adf400l-3p, speed 1, units 1, 4, 7, ...)";
  // DL/T 645: "kwh sim: 3 meters on 127.0.0.1:15020 (acrel-dtsy1352-dlt645, dlt645, speed 60)".
  std::string banner() const;
  Fleet& fleet();
  const FaultCounts& counts() const;
  // "kwh sim: 1200 requests; faults: 120 dropped, 60 late, ...", or with no faults "kwh sim: 1200 requests".
  std::string summary() const;
  // Stops accepting and closes every connection.
  void stop();
  // Every meter on every gateway stops answering (a dead device or bus: requests get no reply,
  // connections stay open), or answers again. `kwh sim` toggles it on SIGUSR1.
  void set_silent(bool silent);
  bool silent() const;

private:
  class Impl;
  std::shared_ptr<Impl> m_impl;
};

} // namespace kwh::sim
