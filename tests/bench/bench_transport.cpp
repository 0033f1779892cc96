// Benchmark of kwh::transport and kwh sim over loopback:
//  1. per-request latency of the synchronous Client for Modbus TCP, RTU over TCP, and RTU on a
//     serial port (a socat pty joined to the simulator's RTU port, when socat is installed);
//  2. what the simulator serves: thousands of meters on many gateways, polled by one Bus per
//     gateway on one io_context (as kwhd does), in requests per second.
//
//   bench_transport [REQUESTS] [METERS] [GATEWAYS] [SECONDS]   (defaults 2000 5000 25 3)

#include <kwh/sim/server.hpp>
#include <kwh/transport/client.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <thread>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

using namespace kwh;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A simulator on its own thread, on free ports.
struct SimThread {
  boost::asio::io_context io{1};
  std::unique_ptr<sim::Server> server;
  std::thread thread;

  SimThread(int meters, int gateways, bool rtu) {
    sim::Options o;
    o.meters = meters;
    o.gateways = gateways;
    o.port = 0;
    o.profile = *modbus::builtin_profile("acrel-ddsy1352");
    o.rtu_over_tcp = rtu;
    server = std::make_unique<sim::Server>(io, o);
    thread = std::thread([this] { io.run(); });
  }
  ~SimThread() {
    boost::asio::post(io, [this] { server->stop(); io.stop(); });
    thread.join();
  }
};

void latency(const std::string& label, transport::GatewaySpec spec, int requests) {
  spec.timeout = 2s;
  transport::Client client(spec);
  std::vector<double> us;
  int failures = 0;
  for (int i = 0; i < requests + 20; ++i) {
    auto t0 = Clock::now();
    auto r = client.read_holding(static_cast<std::uint8_t>(1 + i % 10), 0, 10);
    double d = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    if (!r.ok()) ++failures;
    if (i >= 20) us.push_back(d); // the first ones connect and warm up
  }
  std::sort(us.begin(), us.end());
  double sum = 0;
  for (double v : us) sum += v;
  fmt::print("{:<28} {:>6} reads of 10 registers: mean {:>6.0f} us  p50 {:>6.0f} us  p99 {:>6.0f} us  max {:>6.0f} us"
             "  failed {}\n",
             label, us.size(), sum / static_cast<double>(us.size()), us[us.size() / 2], us[us.size() * 99 / 100],
             us.back(), failures);
}

void serial_latency(int requests) {
  if (std::system("command -v socat >/dev/null 2>&1") != 0) {
    fmt::print("{:<28} skipped: socat not installed\n", "rtu serial (socat pty)");
    return;
  }
  SimThread sim(10, 1, true);
  auto link = std::filesystem::temp_directory_path() / fmt::format("kwh-bench-tty-{}", ::getpid());
  std::string a = fmt::format("pty,raw,echo=0,link={}", link.string());
  std::string b = fmt::format("tcp:127.0.0.1:{}", sim.server->ports().front());
  const char* argv[] = {"socat", a.c_str(), b.c_str(), nullptr};
  pid_t pid = 0;
  if (posix_spawnp(&pid, "socat", nullptr, nullptr, const_cast<char* const*>(argv), environ) != 0) return;
  for (int i = 0; i < 100 && !std::filesystem::exists(link); ++i) std::this_thread::sleep_for(20ms);
  transport::GatewaySpec spec;
  spec.kind = transport::Kind::rtu_serial;
  spec.address = link.string();
  spec.baud = 115200;
  latency("rtu serial (socat pty)", spec, requests / 4);
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
}

// One Bus per gateway, each cycling through its units as fast as the bus allows.
void capacity(int meters, int gateways, int seconds) {
  SimThread sim(meters, gateways, false);
  int per = (meters + gateways - 1) / gateways;
  boost::asio::io_context io;
  std::vector<std::unique_ptr<transport::Bus>> buses;
  std::uint64_t ok = 0, failed = 0;
  auto end = Clock::now() + std::chrono::seconds(seconds);
  std::function<void(transport::Bus&, int)> next = [&](transport::Bus& bus, int unit) {
    if (Clock::now() >= end) return;
    bus.submit(transport::Request::read_holding(static_cast<std::uint8_t>(unit), 0, 10),
               [&, unit, b = &bus](transport::Outcome<transport::Response> r) {
                 (r.ok() ? ok : failed)++;
                 next(*b, unit % per + 1);
               });
  };
  for (int g = 0; g < gateways; ++g) {
    transport::GatewaySpec spec;
    spec.address = fmt::format("127.0.0.1:{}", sim.server->ports()[static_cast<std::size_t>(g)]);
    spec.timeout = 2s;
    buses.push_back(std::make_unique<transport::Bus>(io, spec));
    next(*buses.back(), 1);
  }
  auto t0 = Clock::now();
  io.run();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  fmt::print("sim capacity: {} meters on {} gateways, {} buses on one thread: {:.0f} reads/s ({} ok, {} failed); "
             "all {} meters read in {:.2f} s\n",
             meters, gateways, gateways, static_cast<double>(ok) / secs, ok, failed, meters,
             static_cast<double>(meters) / (static_cast<double>(ok) / secs));
}

} // namespace

int main(int argc, char** argv) {
  int requests = argc > 1 ? std::atoi(argv[1]) : 2000;
  int meters = argc > 2 ? std::atoi(argv[2]) : 5000;
  int gateways = argc > 3 ? std::atoi(argv[3]) : 25;
  int seconds = argc > 4 ? std::atoi(argv[4]) : 3;
  {
    SimThread sim(10, 1, false);
    transport::GatewaySpec spec;
    spec.address = fmt::format("127.0.0.1:{}", sim.server->ports().front());
    latency("modbus tcp", spec, requests);
  }
  {
    SimThread sim(10, 1, true);
    transport::GatewaySpec spec;
    spec.kind = transport::Kind::rtu_over_tcp;
    spec.address = fmt::format("127.0.0.1:{}", sim.server->ports().front());
    latency("rtu over tcp", spec, requests);
  }
  serial_latency(requests);
  capacity(meters, gateways, seconds);
  return 0;
}
