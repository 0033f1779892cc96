// The read planner against one request per value: for every built-in profile, how many
// requests one poll takes, how many registers it reads and its wire time on an RTU bus at
// 9600 baud (the RTU model of kwh/modbus/planner.hpp); then how long planning itself takes.
#include <kwh/modbus/planner.hpp>

#include <fmt/format.h>

#include <chrono>
#include <random>

using namespace kwh::modbus;

namespace {

struct Figures {
  std::size_t requests = 0;
  long registers = 0;
  double ms = 0;
};

Figures figures(const std::vector<ReadRequest>& plan, int baud) {
  Figures f;
  f.requests = plan.size();
  for (const auto& r : plan) f.registers += r.count;
  f.ms = wire_time(plan, baud) * 1000;
  return f;
}

// Microseconds one plan_reads call takes, averaged over enough calls to last ~0.2 s.
double plan_microseconds(const std::vector<ValueSpec>& specs, int baud) {
  using clock = std::chrono::steady_clock;
  std::size_t calls = 0, sink = 0;
  auto start = clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(clock::now() - start).count(); };
  while (elapsed() < 0.2) {
    for (int i = 0; i < 100; ++i) sink += plan_reads(specs, baud).size();
    calls += 100;
  }
  if (sink == 0) fmt::print("(empty plans)\n");
  return elapsed() * 1e6 / static_cast<double>(calls);
}

} // namespace

int main() {
  constexpr int baud = 9600;
  fmt::print("Read planner, one poll per meter, RTU at {} baud\n\n", baud);
  fmt::print("{:<16} {:>6} | {:>8} {:>9} {:>9} | {:>8} {:>9} {:>9} | {:>7} {:>8}\n", "profile", "values",
             "planned", "registers", "ms/poll", "1/value", "registers", "ms/poll", "saving", "plan µs");
  fmt::print("{:-<118}\n", "");
  for (const auto& name : builtin_profile_names()) {
    auto profile = *builtin_profile(name);
    if (profile.protocol != "modbus") continue; // DL/T 645: one identifier per request, no plan
    auto planned = figures(plan_reads(profile, baud), baud);
    auto naive = figures(plan_one_per_value(profile.values), baud);
    fmt::print("{:<16} {:>6} | {:>8} {:>9} {:>9.1f} | {:>8} {:>9} {:>9.1f} | {:>6.0f}% {:>8.2f}\n", name,
               profile.values.size(), planned.requests, planned.registers, planned.ms, naive.requests,
               naive.registers, naive.ms, 100 * (1 - planned.ms / naive.ms),
               plan_microseconds(profile.values, baud));
  }

  // A large synthetic map: 400 values scattered over 4000 holding registers, for the planner's
  // own cost (quadratic in the values of a table, bounded by the 125-register window).
  std::mt19937 rng(1);
  std::vector<ValueSpec> big;
  for (int i = 0; i < 400; ++i) {
    ValueSpec s;
    s.name = fmt::format("v{}", i);
    s.address = static_cast<std::uint16_t>(rng() % 4000);
    s.type = static_cast<ValueType>(rng() % 8);
    big.push_back(s);
  }
  auto planned = figures(plan_reads(big, baud), baud);
  auto naive = figures(plan_one_per_value(big), baud);
  fmt::print("{:<16} {:>6} | {:>8} {:>9} {:>9.1f} | {:>8} {:>9} {:>9.1f} | {:>6.0f}% {:>8.2f}\n", "synthetic-400",
             big.size(), planned.requests, planned.registers, planned.ms, naive.requests, naive.registers, naive.ms,
             100 * (1 - planned.ms / naive.ms), plan_microseconds(big, baud));
  return 0;
}
