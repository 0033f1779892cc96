#include <kwh/util/money.hpp>

#include <fmt/format.h>

namespace kwh {

Result<std::int64_t> parse_decimal(std::string_view text, int max_decimals, int scale_decimals,
                                   bool allow_negative) {
  auto bad = [&](std::string_view why) {
    return Error(Exit::data, fmt::format("'{}' is not a valid amount: {}", text, why));
  };
  if (text.empty()) return bad("empty");
  std::size_t i = 0;
  bool negative = false;
  if (text[0] == '-') {
    if (!allow_negative) return bad("no sign allowed here");
    negative = true;
    i = 1;
  } else if (text[0] == '+') {
    return bad("no sign allowed here");
  }
  // Accumulate as a negative number so that the most negative value stays representable.
  constexpr std::int64_t lim = std::numeric_limits<std::int64_t>::min();
  std::int64_t acc = 0;
  int int_digits = 0;
  int frac_digits = 0;
  bool seen_point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (seen_point) return bad("more than one decimal point");
      seen_point = true;
      continue;
    }
    if (c < '0' || c > '9') return bad(fmt::format("unexpected character '{}'", c));
    if (seen_point) {
      if (++frac_digits > max_decimals)
        return bad(max_decimals == 0 ? std::string("no decimals allowed")
                                     : fmt::format("more than {} decimals", max_decimals));
    } else {
      ++int_digits;
    }
    int d = c - '0';
    if (acc < (lim + d) / 10) return bad("too large");
    acc = acc * 10 - d;
  }
  if (int_digits == 0) return bad("no digits before the decimal point");
  if (seen_point && frac_digits == 0) return bad("no digits after the decimal point");
  for (int k = frac_digits; k < scale_decimals; ++k) {
    if (acc < lim / 10) return bad("too large");
    acc *= 10;
  }
  if (!negative) {
    if (acc == lim) return bad("too large");
    acc = -acc;
  } else if (acc == lim) {
    return bad("too large");
  }
  return acc;
}

std::string format_decimal(std::int64_t value, int decimals) {
  // Work on the unsigned magnitude so that INT64_MIN formats too.
  bool negative = value < 0;
  std::uint64_t mag = negative ? ~static_cast<std::uint64_t>(value) + 1 : static_cast<std::uint64_t>(value);
  std::string digits = fmt::format("{}", mag);
  if (decimals > 0) {
    if (digits.size() <= static_cast<std::size_t>(decimals))
      digits.insert(0, static_cast<std::size_t>(decimals) - digits.size() + 1, '0');
    digits.insert(digits.size() - static_cast<std::size_t>(decimals), 1, '.');
  }
  return negative ? "-" + digits : digits;
}

Result<Money> Money::parse(std::string_view text, int minor_units, bool allow_negative) {
  auto v = parse_decimal(text, minor_units, minor_units, allow_negative);
  if (!v) return v.error();
  if (*v == std::numeric_limits<std::int64_t>::min())
    return Error(Exit::data, fmt::format("'{}' is not a valid amount: too large", text));
  return Money(*v);
}

std::string Money::format(int minor_units) const { return format_decimal(m_minor, minor_units); }

std::optional<Money> Money::checked_add(Money other) const {
  std::int64_t r;
  if (__builtin_add_overflow(m_minor, other.m_minor, &r) || r == std::numeric_limits<std::int64_t>::min())
    return std::nullopt;
  return Money(r);
}

std::optional<Money> Money::checked_sub(Money other) const {
  std::int64_t r;
  if (__builtin_sub_overflow(m_minor, other.m_minor, &r) || r == std::numeric_limits<std::int64_t>::min())
    return std::nullopt;
  return Money(r);
}

Money Money::operator+(Money other) const {
  auto r = checked_add(other);
  if (!r) throw Error(Exit::data, "amount out of range");
  return *r;
}

Money Money::operator-(Money other) const {
  auto r = checked_sub(other);
  if (!r) throw Error(Exit::data, "amount out of range");
  return *r;
}

Money Money::operator-() const { return Money(-m_minor); }

Result<Price> Price::parse(std::string_view text) {
  auto v = parse_decimal(text, k_decimals, k_decimals, false);
  if (!v) return Error(Exit::data, fmt::format("'{}' is not a valid price: up to {} decimals, no sign",
                                               text, k_decimals));
  return Price(*v);
}

std::string Price::format() const { return format_decimal(m_value, k_decimals); }

} // namespace kwh
