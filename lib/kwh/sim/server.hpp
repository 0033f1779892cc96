#pragma once
// The network side of `kwh sim`: K listening ports (gateways) on one Asio thread, serving the
// Fleet's meters over Modbus TCP (or RTU framed on TCP), with faults injected.
//
// Meters are dealt to gateways in blocks: with N meters and K gateways each gateway serves
// ceil(N/K) meters (the last one the rest) as units 1, 2, ... on its own port, the ports being
// consecutive from the --listen port. Meter m (1-based, across all gateways) is unit
// ((m-1) mod ceil(N/K)) + 1 on gateway (m-1) div ceil(N/K). A unit that is not there gets
// exception 11 (gateway target failed to respond) over Modbus TCP, and no reply over RTU.

#include <kwh/modbus/profile.hpp>
#include <kwh/sim/faults.hpp>
#include <kwh/sim/fleet.hpp>

#include <boost/asio/io_context.hpp>

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
  bool rtu_over_tcp = false;
  unsigned seed = 1; // for the random faults
};

// Checks the options (meters per gateway at most 247, speed > 0 ...); Error(usage) if not.
void check(const Options& options);

// What the simulator did to the requests it was sent, for tests that must show a fault happened.
struct FaultCounts {
  std::uint64_t requests = 0;   // requests for a meter that is there
  std::uint64_t dropped = 0;    // no reply (drop)
  std::uint64_t silent = 0;     // no reply: the silent gateway, or the flapping meter while it is away
  std::uint64_t late = 0;       // replied late-by after the reply was due
  std::uint64_t exceptions = 0; // exception replies injected
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
  // "kwh sim: 20 meters on 127.0.0.1:15020-15021 (acrel-ddsy1352, speed 60)".
  std::string banner() const;
  Fleet& fleet();
  const FaultCounts& counts() const;
  // "kwh sim: 1200 requests; faults: 120 dropped, 60 late, ...", or with no faults "kwh sim: 1200 requests".
  std::string summary() const;
  // Stops accepting and closes every connection.
  void stop();

private:
  class Impl;
  std::shared_ptr<Impl> m_impl;
};

} // namespace kwh::sim
