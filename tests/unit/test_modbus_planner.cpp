#include <doctest/doctest.h>

#include <kwh/modbus/planner.hpp>

#include <algorithm>
#include <array>
#include <functional>
#include <limits>
#include <random>

using namespace kwh::modbus;

namespace {

ValueSpec at(Table table, std::uint16_t address, ValueType type = ValueType::u16) {
  ValueSpec s;
  s.name = "v" + std::to_string(address);
  s.table = table;
  s.address = address;
  s.type = type;
  return s;
}

ValueSpec reg(std::uint16_t address, ValueType type = ValueType::u16) { return at(Table::holding, address, type); }

// Every value is inside exactly one request of its table; requests respect the size limits.
void check_plan_covers(const std::vector<ValueSpec>& specs, const std::vector<ReadRequest>& plan) {
  std::vector<int> seen(specs.size(), 0);
  for (const auto& r : plan) {
    CHECK(r.count >= 1);
    CHECK(r.count <= (is_bit_table(r.table) ? k_max_read_bits : k_max_read_registers));
    for (auto i : r.values) {
      REQUIRE(i < specs.size());
      ++seen[i];
      CHECK(specs[i].table == r.table);
      CHECK(specs[i].address >= r.address);
      CHECK(specs[i].end() <= std::uint32_t(r.address) + r.count);
    }
  }
  for (int n : seen) CHECK(n == 1);
}

// The true optimum by brute force: every way of grouping the values into requests (set
// partitions), each group read by one request over its hull. Any plan is one of these.
double brute_force(const std::vector<ValueSpec>& specs, int baud, int max_gap = -1) {
  double best = std::numeric_limits<double>::infinity();
  std::vector<int> group(specs.size());
  std::function<void(std::size_t, int)> assign = [&](std::size_t i, int groups) {
    if (i == specs.size()) {
      double total = 0;
      for (int g = 0; g < groups; ++g) {
        std::uint32_t lo = 65536, hi = 0;
        Table table = Table::holding;
        for (std::size_t k = 0; k < specs.size(); ++k) {
          if (group[k] != g) continue;
          if (lo != 65536 && specs[k].table != table) return; // one request reads one table
          table = specs[k].table;
          lo = std::min<std::uint32_t>(lo, specs[k].address);
          hi = std::max(hi, is_bit_table(table) ? specs[k].address + 1u : specs[k].end());
        }
        int count = static_cast<int>(hi - lo);
        if (count > (is_bit_table(table) ? k_max_read_bits : k_max_read_registers)) return;
        if (max_gap >= 0) {
          // Every register of the request that no value of the group covers, in runs.
          std::vector<bool> covered(static_cast<std::size_t>(count), false);
          for (std::size_t k = 0; k < specs.size(); ++k)
            if (group[k] == g)
              for (std::uint32_t a = specs[k].address; a < specs[k].end(); ++a) covered[a - lo] = true;
          int run = 0;
          for (bool c : covered) {
            run = c ? 0 : run + 1;
            if (run > max_gap) return;
          }
        }
        total += wire_time(table, count, baud);
      }
      best = std::min(best, total);
      return;
    }
    for (int g = 0; g <= groups; ++g) {
      group[i] = g;
      assign(i + 1, std::max(groups, g + 1));
    }
  };
  assign(0, 0);
  return best;
}

} // namespace

TEST_CASE("Planner: the wire time follows the RTU model") {
  // 9600 baud, 11-bit characters: request 8 + response 5 + 2 bytes + two 3.5-character gaps.
  CHECK(wire_time(Table::holding, 1, 9600) == doctest::Approx((8 + 5 + 2 + 7) * 11 / 9600.0));
  CHECK(wire_time(Table::holding, 125, 9600) == doctest::Approx((8 + 5 + 250 + 7) * 11 / 9600.0));
  CHECK(wire_time(Table::coil, 9, 9600) == doctest::Approx((8 + 5 + 2 + 7) * 11 / 9600.0));
  // Above 19200 baud the gap is a fixed 1.75 ms.
  CHECK(wire_time(Table::input, 2, 115200) == doctest::Approx((8 + 5 + 4) * 11 / 115200.0 + 0.0035));
  std::vector<ReadRequest> plan{{Table::holding, 0, 1, {}}, {Table::input, 0, 2, {}}};
  CHECK(wire_time(plan, 9600) == doctest::Approx(wire_time(Table::holding, 1) + wire_time(Table::input, 2)));
}

TEST_CASE("Planner: contiguous values are one request") {
  std::vector<ValueSpec> specs{reg(0, ValueType::u32), reg(2, ValueType::u32), reg(4), reg(5, ValueType::f64)};
  auto plan = plan_reads(specs);
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].table == Table::holding);
  CHECK(plan[0].address == 0);
  CHECK(plan[0].count == 9);
  CHECK(plan[0].values == std::vector<std::size_t>{0, 1, 2, 3});
  check_plan_covers(specs, plan);
}

TEST_CASE("Planner: a small gap is read through, a big gap splits the request") {
  // One extra request costs 20 characters; a register of gap costs 2. So a gap of up to 9
  // registers is cheaper to read through.
  auto plan = plan_reads(std::vector<ValueSpec>{reg(0), reg(10)});
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].count == 11);
  plan = plan_reads(std::vector<ValueSpec>{reg(0), reg(12)});
  REQUIRE(plan.size() == 2);
  CHECK(plan[0].address == 0);
  CHECK(plan[0].count == 1);
  CHECK(plan[1].address == 12);
  CHECK(plan[1].count == 1);
  CHECK(plan_reads(std::vector<ValueSpec>{reg(0), reg(1000)}).size() == 2);
}

TEST_CASE("Planner: a profile's max_gap keeps reads off registers the meter may not have") {
  std::vector<ValueSpec> specs{reg(0), reg(2), reg(3, ValueType::u32), reg(8)};
  CHECK(plan_reads(specs).size() == 1);
  auto plan = plan_reads(specs, 9600, 0);
  REQUIRE(plan.size() == 3);
  CHECK(plan[0].count == 1);
  CHECK(plan[1].address == 2);
  CHECK(plan[1].count == 3);
  CHECK(plan[2].address == 8);
  CHECK(plan_reads(specs, 9600, 1).size() == 2);
  CHECK(plan_reads(specs, 9600, 3).size() == 1);
  // An overlapping long value covers what would be a hole between shorter ones.
  std::vector<ValueSpec> overlap{reg(0, ValueType::u64), reg(0), reg(3)};
  CHECK(plan_reads(overlap, 9600, 0).size() == 1);

  Profile p = *builtin_profile("acrel-ddsy1352");
  CHECK(plan_reads(p).size() == 2); // the values, and the relay's state at 0058H
  p.max_gap = 0; // 000AH (code), 000EH are not read
  plan = plan_reads(p);
  CHECK(plan.size() == 4);
  check_plan_covers(p.values, plan);
}

TEST_CASE("Planner: never more than 125 registers or 2000 bits per request") {
  std::vector<ValueSpec> specs;
  for (std::uint16_t a = 0; a < 300; a += 2) specs.push_back(reg(a, ValueType::u32));
  auto plan = plan_reads(specs);
  CHECK(plan.size() == 3);
  check_plan_covers(specs, plan);
  // A value may not straddle two requests: 62 u32 = 124 registers, then the next one starts.
  std::vector<ValueSpec> edge{reg(0), reg(124, ValueType::u32)};
  plan = plan_reads(edge);
  CHECK(plan.size() == 2);
  check_plan_covers(edge, plan);

  std::vector<ValueSpec> coils;
  for (std::uint16_t a = 0; a < 2500; a += 100) coils.push_back(at(Table::coil, a));
  plan = plan_reads(coils);
  check_plan_covers(coils, plan);
  CHECK(plan.size() >= 2);
  for (const auto& r : plan) CHECK(r.count <= 2000);
}

TEST_CASE("Planner: tables are never mixed in one request") {
  std::vector<ValueSpec> specs{reg(0), at(Table::input, 1), reg(2), at(Table::coil, 0), at(Table::discrete, 3),
                               at(Table::input, 0)};
  auto plan = plan_reads(specs);
  check_plan_covers(specs, plan);
  REQUIRE(plan.size() == 4);
  CHECK(plan[0].table == Table::coil);
  CHECK(plan[1].table == Table::discrete);
  CHECK(plan[2].table == Table::holding);
  CHECK(plan[2].count == 3);
  CHECK(plan[3].table == Table::input);
  CHECK(plan[3].values == std::vector<std::size_t>{1, 5});
}

TEST_CASE("Planner: the plan is never slower than one request per value or one request for all") {
  for (const auto& name : builtin_profile_names()) {
    CAPTURE(name);
    auto p = *builtin_profile(name);
    auto plan = plan_reads(p);
    if (p.protocol == "dlt645") {
      // One read per data identifier, in the order of the values.
      REQUIRE(plan.size() == p.values.size());
      for (std::size_t i = 0; i < plan.size(); ++i) CHECK(plan[i].values == std::vector<std::size_t>{i});
      continue;
    }
    check_plan_covers(p.values, plan);
    CHECK(wire_time(plan) <= wire_time(plan_one_per_value(p.values)) + 1e-12);
  }
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<ValueSpec> specs;
    int n = 1 + static_cast<int>(rng() % 20);
    for (int i = 0; i < n; ++i)
      specs.push_back(reg(static_cast<std::uint16_t>(rng() % 120), static_cast<ValueType>(rng() % 8)));
    auto plan = plan_reads(specs, 9600);
    check_plan_covers(specs, plan);
    std::uint32_t lo = 65536, hi = 0;
    for (const auto& s : specs) {
      lo = std::min<std::uint32_t>(lo, s.address);
      hi = std::max(hi, s.end());
    }
    CHECK(wire_time(plan) <= wire_time(plan_one_per_value(specs)) + 1e-12);
    if (hi - lo <= 125) CHECK(wire_time(plan) <= wire_time(Table::holding, static_cast<int>(hi - lo)) + 1e-12);
  }
}

TEST_CASE("Planner: the plan is optimal, by brute force over small random layouts") {
  std::mt19937 rng(20261124);
  for (int round = 0; round < 300; ++round) {
    std::vector<ValueSpec> specs;
    int n = 1 + static_cast<int>(rng() % 7);
    // Mostly close together (merging decisions are real), sometimes overlapping, sometimes far,
    // sometimes near the 125 limit, sometimes in two tables.
    std::uint16_t spread = std::array<std::uint16_t, 4>{12, 40, 140, 400}[rng() % 4];
    for (int i = 0; i < n; ++i) {
      Table table = rng() % 5 == 0 ? Table::input : Table::holding;
      specs.push_back(at(table, static_cast<std::uint16_t>(rng() % spread), static_cast<ValueType>(rng() % 8)));
    }
    int baud = rng() % 2 ? 9600 : 115200;
    int max_gap = std::array<int, 4>{-1, -1, 0, 3}[rng() % 4];
    auto plan = plan_reads(specs, baud, max_gap);
    check_plan_covers(specs, plan);
    CAPTURE(round);
    CAPTURE(max_gap);
    CHECK(wire_time(plan, baud) == doctest::Approx(brute_force(specs, baud, max_gap)).epsilon(1e-12));
  }
}

TEST_CASE("Planner: a value is decoded out of the request that carries it") {
  std::vector<ValueSpec> specs{reg(0, ValueType::u32), reg(3)};
  specs[0].scale = 10;
  auto plan = plan_reads(specs);
  REQUIRE(plan.size() == 1);
  std::vector<std::uint16_t> data{0x0012, 0xD687, 0xAAAA, 2301};
  CHECK(decode_from(plan[0], data, specs[0], WordOrder::big)->integer == 12345670);
  CHECK(decode_from(plan[0], data, specs[1], WordOrder::big)->integer == 2301);
  CHECK_FALSE(decode_from(plan[0], std::span(data).first(3), specs[1], WordOrder::big)); // short reply
  CHECK_FALSE(decode_from(plan[0], data, reg(4), WordOrder::big));                       // not inside
  CHECK_FALSE(decode_from(plan[0], data, at(Table::input, 0), WordOrder::big));          // other table
}
