// Decoding over arbitrary register bytes. The first byte picks type, word order and table;
// the next eight are the scale (any double: 0, NaN and infinity included); the rest are the
// words. Decoding must never crash, never yield NaN or infinity, give an exact integer for
// integer types with whole scales, and encode back to the same words. Then the same bytes are
// the reply to every request of a built-in profile's plan.
#include <kwh/modbus/planner.hpp>
#include <kwh/util/error.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace kwh::modbus;

namespace {

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_value_decode: %s\n", what);
  std::abort();
}

const std::vector<Profile>& profiles() {
  static const std::vector<Profile> k_profiles = [] {
    std::vector<Profile> v;
    for (const auto& n : builtin_profile_names()) v.push_back(*builtin_profile(n));
    return v;
  }();
  return k_profiles;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 9) return 0;
  ValueSpec spec;
  spec.name = "energy_total";
  spec.type = static_cast<ValueType>(data[0] & 7);
  const WordOrder order = (data[0] & 8) ? WordOrder::little : WordOrder::big;
  spec.table = (data[0] & 0x30) == 0x30 ? Table::coil : Table::holding;
  if (spec.table == Table::coil) spec.type = ValueType::u16;
  std::memcpy(&spec.scale, data + 1, sizeof(double));
  std::vector<std::uint16_t> words;
  for (std::size_t i = 9; i + 1 < size; i += 2) words.push_back(static_cast<std::uint16_t>(data[i] << 8 | data[i + 1]));

  const auto value = decode(spec, words, order);
  const std::size_t expected = spec.table == Table::coil ? 1 : static_cast<std::size_t>(spec.words());
  if (words.size() != expected) require(!value, "decoded from the wrong number of words");
  if (value) {
    require(std::isfinite(value->real), "decoded a value that is not finite");
    require(std::isfinite(spec.scale) && spec.scale != 0, "decoded with a scale that is no number");
    const bool integer_type = spec.type != ValueType::f32 && spec.type != ValueType::f64;
    const bool whole_scale = spec.scale >= 1 && spec.scale <= 1e6 && std::floor(spec.scale) == spec.scale;
    if (integer_type && whole_scale && value->integer) {
      // Exact: raw × scale, and back to the very same words (a coil's nonzero word reads as 1).
      auto same = spec.table == Table::coil ? std::vector<std::uint16_t>{words[0] != 0} : words;
      require(encode_integer(spec, *value->integer, order) == same, "integer round trip changed the words");
    }
    if (!integer_type && spec.scale == 1 && spec.table != Table::coil) {
      auto again = decode(spec, encode(spec, value->real, order), order);
      require(again && again->real == value->real, "float round trip changed the value");
    }
  }

  // The bytes as the replies to a whole poll of a built-in profile.
  const auto& all = profiles();
  const auto& profile = all[data[0] % all.size()];
  const auto plan = plan_reads(profile, 9600);
  std::vector<std::uint16_t> reply(words);
  for (const auto& request : plan) {
    for (auto i : request.values) {
      const auto& spec_i = profile.values[i];
      auto v = decode_from(request, reply, spec_i, profile.word_order);
      const std::size_t need = spec_i.address - request.address + static_cast<std::size_t>(spec_i.words());
      if (reply.size() < need) require(!v, "decoded a value past the end of a short reply");
      if (v) require(std::isfinite(v->real), "a poll decoded a value that is not finite");
    }
  }
  return 0;
}
