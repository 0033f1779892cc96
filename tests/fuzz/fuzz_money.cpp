// Money::parse over arbitrary text. The first byte picks the decimals (0..6) and whether a sign
// is allowed; the rest is the text. Whatever parses must format to text that parses back to the
// same amount, with the same number of decimals; whatever is rejected is rejected as Exit::data.
// The same for Price (four decimals).
#include <kwh/util/money.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {
void require(bool ok, const char* what, std::string_view text) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_money: %s for '%.*s'\n", what, static_cast<int>(text.size()), text.data());
  std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const int minor_units = data[0] % (kwh::Money::k_max_minor_units + 1);
  const bool allow_negative = (data[0] & 0x80) != 0;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  auto m = kwh::Money::parse(text, minor_units, allow_negative);
  if (m) {
    require(allow_negative || !m->is_negative(), "negative amount accepted without a sign allowed", text);
    auto formatted = m->format(minor_units);
    auto again = kwh::Money::parse(formatted, minor_units, allow_negative);
    require(again.ok(), "formatted amount does not parse", formatted);
    require(*again == *m, "round trip changed the amount", formatted);
    require(again->format(minor_units) == formatted, "formatting is not stable", formatted);
    // A decimal point in the output exactly when there are decimals.
    require((formatted.find('.') != std::string::npos) == (minor_units > 0), "decimals shown wrongly", formatted);
  } else {
    require(m.error().code() == kwh::Exit::data, "rejected with the wrong exit code", text);
  }

  auto p = kwh::Price::parse(text);
  if (p) {
    auto again = kwh::Price::parse(p->format());
    require(again.ok() && *again == *p, "price round trip changed the price", text);
  }
  return 0;
}
