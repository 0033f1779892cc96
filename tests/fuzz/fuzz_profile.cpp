// The profile loader over arbitrary TOML text: it may accept or reject, but it must only ever
// throw kwh::Error with Exit::config and a one-line message; what it accepts must hold together
// (a total value of the kind, addresses inside the register space) and plan within the limits.
#include <kwh/modbus/planner.hpp>
#include <kwh/util/error.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {
void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_profile: %s\n", what);
  std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  kwh::modbus::Profile p;
  try {
    p = kwh::modbus::parse_profile(text, "fuzz.toml");
  } catch (const kwh::Error& e) {
    require(e.code() == kwh::Exit::config, "a bad profile is not Exit::config");
    std::string message = e.what();
    require(message.rfind("profile fuzz.toml", 0) == 0, "the message does not name the source");
    return 0;
  } // anything else escapes, and libFuzzer reports the uncaught exception as a crash
  require(p.total() != nullptr, "accepted without its total value");
  require(p.kind == "electricity" || p.kind == "water", "accepted an unknown kind");
  for (const auto& v : p.values) require(v.end() <= 65536 && v.scale != 0, "accepted a value outside the registers");
  // A Modbus relay is switched by words; a DL/T 645 one by relay control, its state in status word 3.
  if (p.relay && p.protocol == "modbus")
    require(!p.relay->on.empty() && !p.relay->off.empty(), "accepted a relay without words");
  if (p.relay && p.protocol == "dlt645") require(p.relay->status.has_value(), "a DL/T 645 relay without its state");
  if (p.relay && p.relay->status) require(p.find("relay_status") != nullptr, "a relay state that is not read");
  auto plan = kwh::modbus::plan_reads(p);
  std::size_t carried = 0;
  for (const auto& r : plan) {
    require(r.count <= (kwh::modbus::is_bit_table(r.table) ? 2000 : 125), "planned an oversized request");
    carried += r.values.size();
  }
  require(carried == p.values.size(), "the plan does not carry every value once");
  return 0;
}
