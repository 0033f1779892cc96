// kwh-modbus-client: drives kwh::transport from a shell script, for the end-to-end tests
// against servers we did not write (pymodbus, socat pty pairs) and against `kwh sim`.
//
//   kwh-modbus-client --kind tcp|rtu-over-tcp|rtu --address A [--baud N --parity N|E|O
//       --stop-bits 1|2] [--timeout-ms N] [--gap-ms N] [--repeat N] COMMAND...
//
// Commands run in order on one Bus, each printing one line: "ok WORDS..." or "fail DESCRIPTION".
//   rh UNIT ADDR COUNT    read holding      ri UNIT ADDR COUNT   read input
//   rc UNIT ADDR COUNT    read coils        rd UNIT ADDR COUNT   read discrete
//   wr UNIT ADDR V        write register    wm UNIT ADDR V,V,..  write registers
//   wc UNIT ADDR 0|1      write coil        sleep MS
// --repeat N runs the command list N times and prints latency figures instead (for the
// benchmark in the report). Exit 0 when every request succeeded, else the last failure's code.

#include <kwh/transport/client.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>

using namespace kwh::transport;

namespace {

std::vector<std::uint16_t> parse_list(const std::string& text) {
  std::vector<std::uint16_t> out;
  std::size_t at = 0;
  while (at <= text.size()) {
    auto comma = text.find(',', at);
    out.push_back(static_cast<std::uint16_t>(std::stoul(text.substr(at, comma - at), nullptr, 0)));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  GatewaySpec spec;
  std::string kind = "tcp", parity = "N";
  int timeout_ms = 500, gap_ms = 0, repeat = 0;
  std::vector<std::string> words;
  CLI::App app{"drive kwh::transport from the command line (tests)"};
  app.add_option("--kind", kind);
  app.add_option("--address", spec.address)->required();
  app.add_option("--baud", spec.baud);
  app.add_option("--parity", parity);
  app.add_option("--stop-bits", spec.stop_bits);
  app.add_option("--timeout-ms", timeout_ms);
  app.add_option("--gap-ms", gap_ms);
  app.add_option("--repeat", repeat);
  app.add_option("commands", words)->required();
  CLI11_PARSE(app, argc, argv);
  spec.kind = *parse_kind(kind);
  spec.parity = *parse_parity(parity);
  spec.timeout = std::chrono::milliseconds(timeout_ms);
  spec.gap = std::chrono::milliseconds(gap_ms);

  struct Step {
    std::string op;
    Request req;
    int sleep_ms = 0;
  };
  std::vector<Step> steps;
  for (std::size_t i = 0; i < words.size();) {
    const std::string& op = words[i];
    if (op == "sleep" && i + 1 < words.size()) {
      steps.push_back({op, {}, std::stoi(words[i + 1])});
      i += 2;
      continue;
    }
    if (i + 3 >= words.size()) {
      std::cerr << "kwh-modbus-client: " << op << " needs UNIT ADDR ARG\n";
      return 64;
    }
    auto unit = static_cast<std::uint8_t>(std::stoul(words[i + 1], nullptr, 0));
    auto addr = static_cast<std::uint16_t>(std::stoul(words[i + 2], nullptr, 0));
    const std::string& arg = words[i + 3];
    auto n = static_cast<std::uint16_t>(std::stoul(arg, nullptr, 0) & 0xFFFF);
    Request r;
    if (op == "rh") r = Request::read_holding(unit, addr, n);
    else if (op == "ri") r = Request::read_input(unit, addr, n);
    else if (op == "rc") r = Request::read_coils(unit, addr, n);
    else if (op == "rd") r = Request::read_discrete(unit, addr, n);
    else if (op == "wr") r = Request::write_register(unit, addr, n);
    else if (op == "wm") r = Request::write_registers(unit, addr, parse_list(arg));
    else if (op == "wc") r = Request::write_coil(unit, addr, n != 0);
    else {
      std::cerr << "kwh-modbus-client: unknown command " << op << "\n";
      return 64;
    }
    steps.push_back({op, r, 0});
    i += 4;
  }

  Client client(spec);
  int rc = 0;
  if (repeat > 0) {
    std::vector<double> us;
    int failures = 0;
    for (int k = 0; k < repeat; ++k)
      for (const auto& s : steps) {
        auto t0 = std::chrono::steady_clock::now();
        auto o = client.call(s.req);
        us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
        if (!o.ok()) ++failures;
      }
    std::sort(us.begin(), us.end());
    double sum = 0;
    for (double v : us) sum += v;
    fmt::print("{} requests, {} failed: mean {:.0f} us, p50 {:.0f} us, p99 {:.0f} us, max {:.0f} us\n", us.size(),
               failures, sum / static_cast<double>(us.size()), us[us.size() / 2], us[us.size() * 99 / 100], us.back());
    return failures ? 1 : 0;
  }
  for (const auto& s : steps) {
    if (s.op == "sleep") {
      std::this_thread::sleep_for(std::chrono::milliseconds(s.sleep_ms));
      continue;
    }
    auto o = client.call(s.req);
    if (!o.ok()) {
      std::cout << "fail " << o.failure().describe() << std::endl;
      rc = static_cast<int>(o.failure().exit_code());
      continue;
    }
    std::string line = "ok";
    for (auto w : o->words) line += " " + std::to_string(w);
    for (bool b : o->bits) line += b ? " 1" : " 0";
    std::cout << line << std::endl;
  }
  return rc;
}
