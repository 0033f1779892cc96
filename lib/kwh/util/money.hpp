#pragma once
// Money: an exact count of minor units (cents, fen) in an int64. No floating point ever
// touches it. The number of decimals (minor_units, 0..6) is a site setting, so parsing and
// formatting take it as an argument.

#include <kwh/util/error.hpp>

#include <compare>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace kwh {

class Money {
public:
  static constexpr int k_default_minor_units = 2;
  static constexpr int k_max_minor_units = 6;

  constexpr Money() = default;
  static constexpr Money from_minor(std::int64_t minor) { return Money(minor); }
  static constexpr Money max() { return Money(std::numeric_limits<std::int64_t>::max()); }
  static constexpr Money min() { return Money(std::numeric_limits<std::int64_t>::min() + 1); }

  constexpr std::int64_t minor() const { return m_minor; }
  constexpr bool is_zero() const { return m_minor == 0; }
  constexpr bool is_negative() const { return m_minor < 0; }

  // Exact decimal parse: "200", "200.5", "200.50", "-3.10" (only when allow_negative).
  // Rejects more decimals than minor_units, stray characters, whitespace, empty strings,
  // "+" signs, and values that do not fit.
  static Result<Money> parse(std::string_view text, int minor_units = k_default_minor_units,
                             bool allow_negative = false);

  // "200.50", "-0.05", "7" with minor_units = 0.
  std::string format(int minor_units = k_default_minor_units) const;

  // Checked arithmetic: nullopt on overflow.
  std::optional<Money> checked_add(Money other) const;
  std::optional<Money> checked_sub(Money other) const;
  // Throwing arithmetic for code paths where overflow is a broken invariant.
  Money operator+(Money other) const;
  Money operator-(Money other) const;
  Money operator-() const;
  Money& operator+=(Money other) { return *this = *this + other; }
  Money& operator-=(Money other) { return *this = *this - other; }

  friend constexpr auto operator<=>(Money, Money) = default;

private:
  constexpr explicit Money(std::int64_t minor) : m_minor(minor) {}
  std::int64_t m_minor = 0;
};

// A price per kWh or per m³ with exactly four decimals, as an integer count of 1/10 000.
class Price {
public:
  static constexpr int k_decimals = 4;
  constexpr Price() = default;
  static constexpr Price from_ten_thousandths(std::int64_t v) { return Price(v); }
  constexpr std::int64_t ten_thousandths() const { return m_value; }
  static Result<Price> parse(std::string_view text);
  std::string format() const; // always four decimals: "1.2000"
  friend constexpr auto operator<=>(Price, Price) = default;

private:
  constexpr explicit Price(std::int64_t v) : m_value(v) {}
  std::int64_t m_value = 0;
};

// Parses a non-negative decimal with at most max_decimals decimals into an integer scaled by
// 10^scale_decimals. Shared by Money and Price; errors name the problem, not the field.
Result<std::int64_t> parse_decimal(std::string_view text, int max_decimals, int scale_decimals,
                                   bool allow_negative);
std::string format_decimal(std::int64_t value, int decimals);

} // namespace kwh
