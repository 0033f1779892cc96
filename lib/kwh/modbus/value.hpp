#pragma once
// Decoding register words into canonical values, and the inverse for writing settings and for
// the simulator. Integer types with a decimal scale are converted exactly (no floating point
// between a meter's counter and the Wh or litres that are billed).

#include <kwh/modbus/profile.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kwh::modbus {

// One decoded value in its canonical unit.
struct Value {
  std::string name;
  // The canonical value (raw × scale) as a real; what V, A, W, Hz and pf are stored as.
  double real = 0;
  // The canonical value rounded to the nearest integer (half away from zero), computed exactly
  // for integer types: what energy (Wh), volume (L) and money are stored as. nullopt when it
  // does not fit in int64.
  std::optional<std::int64_t> integer;
};

// Decodes one value from exactly spec.words() register words (for coil/discrete: one word,
// 0 or 1). Returns nullopt when the words cannot be a value: wrong count, NaN or infinity.
// A missing value is missing, never zero.
std::optional<Value> decode(const ValueSpec& spec, std::span<const std::uint16_t> words, WordOrder order);

// The raw number the words hold, before scaling (for diagnostics: `kwh meter read --raw`).
std::optional<double> decode_raw(const ValueSpec& spec, std::span<const std::uint16_t> words, WordOrder order);

// The register words that hold a canonical value: raw = canonical / scale, rounded to the
// nearest integer for integer types. Throws Error(Exit::data) when it does not fit the type
// or is not finite.
std::vector<std::uint16_t> encode(const ValueSpec& spec, double canonical, WordOrder order);
// The same for an exact integer canonical value (Wh, L): no floating point for integer types
// with a decimal scale; rounds half away from zero when canonical is not a multiple of scale.
std::vector<std::uint16_t> encode_integer(const ValueSpec& spec, std::int64_t canonical, WordOrder order);

} // namespace kwh::modbus
