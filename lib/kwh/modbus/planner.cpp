#include <kwh/modbus/planner.hpp>

#include <algorithm>
#include <limits>
#include <numeric>

namespace kwh::modbus {

namespace {

constexpr double k_bits_per_char = 11; // start, 8 data, parity (or a second stop), stop
constexpr int k_request_bytes = 8;     // address, function, start (2), count (2), CRC (2)
constexpr int k_response_overhead = 5; // address, function, byte count, CRC (2)

int max_count(Table table) { return is_bit_table(table) ? k_max_read_bits : k_max_read_registers; }

// Plans the values of one table. `items` are indices into specs, all of that table.
void plan_table(std::span<const ValueSpec> specs, std::vector<std::size_t> items, Table table, int baud,
                int max_gap, std::vector<ReadRequest>& out) {
  if (items.empty()) return;
  std::sort(items.begin(), items.end(), [&](std::size_t a, std::size_t b) {
    const auto& x = specs[a];
    const auto& y = specs[b];
    if (x.address != y.address) return x.address < y.address;
    if (x.end() != y.end()) return x.end() < y.end();
    return a < b;
  });
  const std::size_t n = items.size();
  const int limit = max_count(table);
  auto span_end = [&](std::size_t k) { return is_bit_table(table) ? specs[items[k]].address + 1u : specs[items[k]].end(); };
  // The largest run of registers no value of items[i..j) covers.
  auto largest_hole = [&](std::size_t i, std::size_t j) {
    std::uint32_t covered = specs[items[i]].address, hole = 0;
    for (std::size_t k = i; k < j; ++k) {
      if (specs[items[k]].address > covered) hole = std::max<std::uint32_t>(hole, specs[items[k]].address - covered);
      covered = std::max(covered, span_end(k));
    }
    return hole;
  };

  // best[j]: least wire time to read items[0..j); first[j]: where the last request of that
  // plan starts. A request covers a run of consecutive items in address order: any plan can be
  // turned into one of those without costing more (a value whose start lies inside a request
  // either fits in it or extends past it, and then can swap places with the request's last value).
  std::vector<double> best(n + 1, std::numeric_limits<double>::infinity());
  std::vector<std::size_t> first(n + 1, 0);
  best[0] = 0;
  for (std::size_t j = 1; j <= n; ++j) {
    std::uint32_t end = 0;
    for (std::size_t i = j; i-- > 0;) {
      end = std::max(end, span_end(i));
      const auto count = static_cast<int>(end - specs[items[i]].address);
      if (count > limit) break; // widening further only grows the request
      // Not break: an earlier, longer value may cover the hole.
      if (max_gap >= 0 && largest_hole(i, j) > static_cast<std::uint32_t>(max_gap)) continue;
      double t = best[i] + wire_time(table, count, baud);
      if (t < best[j]) {
        best[j] = t;
        first[j] = i;
      }
    }
  }

  std::vector<ReadRequest> reversed;
  for (std::size_t j = n; j > 0; j = first[j]) {
    ReadRequest r;
    r.table = table;
    r.address = specs[items[first[j]]].address;
    std::uint32_t end = 0;
    for (std::size_t k = first[j]; k < j; ++k) {
      end = std::max(end, span_end(k));
      r.values.push_back(items[k]);
    }
    r.count = static_cast<std::uint16_t>(end - r.address);
    std::sort(r.values.begin(), r.values.end());
    reversed.push_back(std::move(r));
  }
  out.insert(out.end(), reversed.rbegin(), reversed.rend());
}

} // namespace

double wire_time(Table table, int count, int baud) {
  if (baud <= 0) baud = 9600;
  const int data_bytes = is_bit_table(table) ? (count + 7) / 8 : 2 * count;
  const double chars = k_request_bytes + k_response_overhead + data_bytes;
  const double gap = baud > 19200 ? 0.00175 : 3.5 * k_bits_per_char / baud;
  return chars * k_bits_per_char / baud + 2 * gap;
}

double wire_time(std::span<const ReadRequest> plan, int baud) {
  double total = 0;
  for (const auto& r : plan) total += wire_time(r.table, r.count, baud);
  return total;
}

std::vector<ReadRequest> plan_reads(std::span<const ValueSpec> specs, int baud, int max_gap) {
  std::vector<ReadRequest> out;
  for (Table table : {Table::coil, Table::discrete, Table::holding, Table::input}) {
    std::vector<std::size_t> items;
    for (std::size_t i = 0; i < specs.size(); ++i)
      if (specs[i].table == table) items.push_back(i);
    plan_table(specs, std::move(items), table, baud, max_gap, out);
  }
  return out;
}

std::vector<ReadRequest> plan_reads(const Profile& profile, int baud) {
  if (profile.protocol == "dlt645") {
    // One read (one data identifier) per value; the address is the value's index.
    std::vector<ReadRequest> plan;
    for (std::size_t i = 0; i < profile.values.size(); ++i)
      plan.push_back(ReadRequest{Table::holding, static_cast<std::uint16_t>(i), 1, {i}});
    return plan;
  }
  return plan_reads(profile.values, baud, profile.max_gap);
}

std::vector<ReadRequest> plan_one_per_value(std::span<const ValueSpec> specs) {
  std::vector<ReadRequest> out;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const auto& s = specs[i];
    out.push_back({s.table, s.address, static_cast<std::uint16_t>(is_bit_table(s.table) ? 1 : s.words()), {i}});
  }
  return out;
}

std::optional<Value> decode_from(const ReadRequest& request, std::span<const std::uint16_t> data,
                                 const ValueSpec& spec, WordOrder order) {
  if (spec.table != request.table || spec.address < request.address) return std::nullopt;
  const std::size_t offset = spec.address - request.address;
  const std::size_t n = is_bit_table(spec.table) ? 1 : static_cast<std::size_t>(spec.words());
  if (offset + n > request.count || offset + n > data.size()) return std::nullopt;
  return decode(spec, data.subspan(offset, n), order);
}

} // namespace kwh::modbus
