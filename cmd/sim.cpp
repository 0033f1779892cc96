// kwh sim: serve simulated meters over Modbus TCP or DL/T 645 (kwh-sim(1)). Wiring
// only: the meters are kwh::sim::Fleet, the sockets kwh::sim::Server.

#include "context.hpp"

#include <kwh/crypto/hmac.hpp>
#include <kwh/sim/server.hpp>
#include <kwh/transport/bus.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <functional>
#include <iostream>

namespace kwh::cli {

namespace {

struct SimArgs {
  int meters = 20;
  int gateways = 1;
  std::string listen = "127.0.0.1:15020";
  std::optional<std::string> profile; // acrel-ddsy1352, or acrel-dtsy1352-dlt645 with --protocol dlt645
  std::string protocol = "modbus";
  std::optional<std::string> password;
  double speed = 1;
  double load_w = 2000;
  std::string faults;
  bool rtu_over_tcp = false;
  unsigned seed = 1;
  std::int64_t clock_drift = 0;
};

int run_sim(Context& ctx, const SimArgs& a) {
  sim::Options o;
  o.meters = a.meters;
  o.gateways = a.gateways;
  auto hp = transport::parse_host_port(a.listen);
  if (!hp.ok()) fail(Exit::usage, "--listen: {}", hp.error().what());
  o.host = hp->first;
  o.port = hp->second;
  const bool dlt645 = a.protocol == "dlt645";
  o.protocol = dlt645 ? transport::Protocol::dlt645 : transport::Protocol::modbus;
  o.profile = modbus::find_profile(a.profile.value_or(dlt645 ? "acrel-dtsy1352-dlt645" : "acrel-ddsy1352"),
                                   ctx.config().profiles);
  if (a.password) {
    if (!dlt645) fail(Exit::usage, "--password is for --protocol dlt645");
    auto bytes = crypto::from_hex(*a.password);
    if (a.password->size() != 8 || !bytes)
      fail(Exit::usage, "--password must be 8 hex digits (PA P0 P1 P2), not '{}'", *a.password);
    std::copy(bytes->begin(), bytes->end(), o.password.begin());
  }
  o.speed = a.speed;
  o.load_w = a.load_w;
  auto faults = sim::parse_faults(a.faults);
  if (!faults.ok()) throw faults.error();
  o.faults = *faults;
  o.rtu_over_tcp = a.rtu_over_tcp;
  o.seed = a.seed;
  o.clock_drift = a.clock_drift;

  boost::asio::io_context io(1);
  sim::Server server(io, std::move(o));
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    server.stop();
    io.stop();
  });
  // SIGUSR1: the whole bus (a multi-user meter and its circuits) goes silent, until the next one.
  boost::asio::signal_set usr1(io, SIGUSR1);
  std::function<void()> wait_usr1 = [&] {
    usr1.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      server.set_silent(!server.silent());
      std::cerr << (server.silent() ? "kwh sim: SIGUSR1: every meter is silent until the next SIGUSR1"
                                    : "kwh sim: SIGUSR1: the meters answer again")
                << std::endl;
      wait_usr1();
    });
  };
  wait_usr1();
  // One line, flushed, so that scripts and tests can wait for it (and read the ports).
  std::cout << server.banner() << std::endl;
  io.run();
  // What happened to the requests, so that a test can show that a fault really occurred.
  std::cout << server.summary() << std::endl;
  return 0;
}

} // namespace

void add_sim(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<SimArgs>();
  auto* sub = app.add_subcommand("sim", "serve simulated meters over Modbus TCP or DL/T 645");
  sub->add_option("--meters", a->meters, "number of meters (default 20)")->type_name("N")->check(within(1, 100000));
  sub->add_option("--gateways", a->gateways,
                  "gateways on consecutive ports from --listen's port P; meters are dealt in blocks of\n"
                  "B = ceil(N/K): meter m (1-based) is unit (m-1)%B+1 on port P+(m-1)/B. A unit that is\n"
                  "not there gets exception 11 (no reply with --rtu-over-tcp). With --protocol dlt645\n"
                  "meter m has the address m in 12 digits (000000000001, ...) on the same port")
      ->type_name("K")
      ->check(within(1, 1000));
  sub->add_option("--listen", a->listen, "HOST:PORT of the first gateway (default 127.0.0.1:15020); port 0 picks\n"
                                         "free consecutive ports, printed on the first line")
      ->type_name("HOST:PORT");
  sub->add_option("--profile", a->profile, "register map: a profile name or a TOML file (default acrel-ddsy1352;\n"
                                           "acrel-dtsy1352-dlt645 with --protocol dlt645)")
      ->type_name("NAME|FILE");
  sub->add_option("--protocol", a->protocol,
                  "modbus (default), or dlt645: DL/T 645-2007 meters behind transparent serial servers\n"
                  "(raw TCP), meter m at address m in 12 digits (000000000001, ...)")
      ->check(CLI::IsMember({"modbus", "dlt645"}))
      ->type_name("modbus|dlt645");
  sub->add_option("--password", a->password, "with --protocol dlt645: the password relay control must carry,\n"
                                             "PA P0 P1 P2 (default 02000000)")
      ->type_name("HEX8");
  sub->add_option("--speed", a->speed, "simulated time runs X times faster (default 1)")->type_name("X");
  sub->add_option("--load-w", a->load_w, "load of each meter in W, varied by up to 20% per meter (default 2000);\n"
                                         "water meters flow W/10 litres per hour")
      ->type_name("W");
  sub->add_option("--faults", a->faults, "faults to inject, see below")->type_name("SPEC");
  sub->add_flag("--rtu-over-tcp", a->rtu_over_tcp, "frame as Modbus RTU (CRC, no MBAP) on the TCP ports (not with dlt645)");
  sub->add_option("--seed", a->seed, "seed of the random faults (default 1)")->type_name("N");
  sub->add_option("--clock-drift", a->clock_drift,
                  "seconds every meter's clock is off at the start, + ahead or - behind (default 0);\n"
                  "for profiles with a [clock] and DL/T 645 meters")
      ->type_name("S")
      ->check(within(-100000000, 100000000));
  sub->footer(std::string(sim::k_faults_help) +
              "\n\nEnergy grows with the load while a meter's relay is closed and stops while it is open; relay\n"
              "and settings writes are kept and read back. Band registers (sharp/peak/flat/valley) grow by\n"
              "the simulated UTC time of day: valley 23-07, peak 08-11 and 17-19, sharp 19-21, flat otherwise;\n"
              "the total is their sum. Stops on SIGINT or SIGTERM. SIGUSR1 silences every meter (no reply, as a\n"
              "dead multi-user meter or bus), until the next SIGUSR1.\n\n"
              "A profile with units = 3 (acrel-adf400l-3p) serves its meters on units 1, 4, 7, ... of each gateway.\n\n"
              "DL/T 645 (--protocol dlt645): read data (11H) of every identifier kwh knows but meter_balance and\n"
              "purchase_count (those: error reply, no requested data); status word 3 bit 4 set while the\n"
              "relay is open; relay control (1CH) with the --password (else error reply, wrong password),\n"
              "1AH trips, 1BH and 1CH close; read address (13H); date (04000101) and time (04000102);\n"
              "broadcast time (08H) gets no reply and sets the clock of each meter it is within 5 minutes\n"
              "of. A frame for another address gets no reply. Faults apply as for Modbus (exception=P: an\n"
              "error reply, other error).\n\n"
              "Meters' clocks ([clock] of a profile, DL/T 645 date and time) run in real time, not at --speed,\n"
              "off by --clock-drift until kwh sets them.");
  sub->callback([&ctx, a] { ctx.action = [&ctx, a] { return run_sim(ctx, *a); }; });
}

} // namespace kwh::cli
