// Fuzzes the readings block codec both ways. As a block: arbitrary bytes may decode or not, but
// what decodes must re-encode to a block that decodes to the same readings, no larger than the
// input (the encoder's form is the shortest), and encoding it again gives the same bytes. As a
// recipe: the same bytes describe readings (any values, presence and flags, strictly increasing
// times), whose encoding must decode back to them exactly, at the size size_if_added predicted.

#include <kwh/readings/codec.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using kwh::readings::BlockEncoder;
using kwh::readings::decode_block;
using kwh::readings::Reading;

namespace {

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_readings_block: %s\n", what);
  std::abort();
}

std::string encode(const std::vector<Reading>& readings) {
  BlockEncoder e;
  for (const auto& r : readings) {
    const std::size_t predicted = e.size_if_added(r);
    e.add(r);
    require(e.data().size() == predicted, "size_if_added differs from the size after add");
  }
  require(e.count() == readings.size(), "count differs from the readings added");
  if (!readings.empty())
    require(e.first_time() == readings.front().t && e.last_time() == readings.back().t, "wrong first or last time");
  return std::string(e.data());
}

// Reads the input as a list of numbers, then as zeros once it runs out.
class Recipe {
public:
  Recipe(const std::uint8_t* data, std::size_t size) : m_pos(data), m_end(data + size) {}

  bool done() const { return m_pos == m_end; }
  unsigned byte() { return m_pos == m_end ? 0 : *m_pos++; }

  // 0 to 8 bytes little-endian, so that small and huge numbers are both common.
  std::uint64_t number() {
    const unsigned head = byte();
    std::uint64_t v = 0;
    for (unsigned i = 0; i < head % 9; ++i) v |= static_cast<std::uint64_t>(byte()) << (8 * i);
    return (head & 0x80) != 0 ? 0 - v : v;
  }

private:
  const std::uint8_t* m_pos;
  const std::uint8_t* m_end;
};

std::vector<Reading> readings_from(Recipe& recipe) {
  constexpr auto k_max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::vector<Reading> out;
  Reading r;
  std::optional<std::int64_t>* bands[4] = {&r.sharp, &r.peak, &r.flat, &r.valley};
  while (!recipe.done() && out.size() < 4096) {
    const unsigned shape = recipe.byte();
    if (out.empty()) {
      r.t = static_cast<std::int64_t>(recipe.number());
    } else {
      // Strictly later, by at most INT64_MAX, and not past INT64_MAX: the encoder's precondition.
      std::uint64_t room = k_max - static_cast<std::uint64_t>(r.t);
      if (room == 0) break;
      if (room > k_max) room = k_max;
      r.t = static_cast<std::int64_t>(static_cast<std::uint64_t>(r.t) + 1 + recipe.number() % room);
    }
    const std::uint64_t value_delta = recipe.number();
    r.value = static_cast<std::int64_t>(static_cast<std::uint64_t>(r.value) + value_delta);
    // Bit 7: one band moves with the total (the implied form), the others stay.
    const bool time_of_use = (shape & 0x80) != 0;
    const unsigned moving = time_of_use ? recipe.byte() % 4 : 0;
    for (unsigned i = 0; i < 4; ++i) {
      std::optional<std::int64_t>& band = *bands[i];
      if ((shape & (1u << i)) == 0) {
        band.reset();
        continue;
      }
      const std::uint64_t base = band ? static_cast<std::uint64_t>(*band) : 0;
      const std::uint64_t delta = time_of_use ? (i == moving ? value_delta : 0) : recipe.number();
      band = static_cast<std::int64_t>(base + delta);
    }
    if ((shape & 0x10) != 0)
      r.power = static_cast<std::int64_t>(recipe.number());
    else
      r.power.reset();
    r.flags = static_cast<int>((shape >> 5) & 3);
    out.push_back(r);
  }
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  std::vector<Reading> decoded;
  if (decode_block(input, decoded)) {
    const std::string again = encode(decoded);
    require(again.size() <= input.size(), "re-encoding is larger than the block decoded");
    std::vector<Reading> redecoded;
    require(decode_block(again, redecoded), "a re-encoded block does not decode");
    require(redecoded == decoded, "re-encoding changed the readings");
    require(encode(redecoded) == again, "encoding is not deterministic");
  } else {
    require(decoded.empty(), "a failed decode left readings behind");
  }

  Recipe recipe(data, size);
  const std::vector<Reading> readings = readings_from(recipe);
  const std::string block = encode(readings);
  std::vector<Reading> out;
  require(decode_block(block, out), "an encoded block does not decode");
  require(out == readings, "encoded readings do not decode to themselves");
  return 0;
}
