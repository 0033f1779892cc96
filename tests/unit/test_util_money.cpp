#include <doctest/doctest.h>

#include <kwh/util/money.hpp>

#include <limits>

using kwh::Money;
using kwh::Price;

namespace {
std::int64_t parsed(const char* s, int minor = 2, bool neg = false) {
  auto m = Money::parse(s, minor, neg);
  REQUIRE_MESSAGE(m.ok(), s);
  return m->minor();
}
bool rejects(const char* s, int minor = 2, bool neg = false) { return !Money::parse(s, minor, neg).ok(); }
} // namespace

TEST_CASE("Money: parses whole, one- and two-decimal amounts exactly") {
  CHECK(parsed("200") == 20000);
  CHECK(parsed("200.5") == 20050);
  CHECK(parsed("200.50") == 20050);
  CHECK(parsed("0") == 0);
  CHECK(parsed("0.01") == 1);
  CHECK(parsed("000123.4") == 12340);
  CHECK(parsed("0.1") == 10);
}

TEST_CASE("Money: zero in every spelling is zero") {
  CHECK(parsed("0") == 0);
  CHECK(parsed("0.0") == 0);
  CHECK(parsed("0.00") == 0);
  CHECK(parsed("-0", 2, true) == 0);
  CHECK(Money::from_minor(0).format() == "0.00");
}

TEST_CASE("Money: formats with exactly minor_units decimals") {
  CHECK(Money::from_minor(20050).format() == "200.50");
  CHECK(Money::from_minor(5).format() == "0.05");
  CHECK(Money::from_minor(-5).format() == "-0.05");
  CHECK(Money::from_minor(-12345).format() == "-123.45");
  CHECK(Money::from_minor(7).format(0) == "7");
  CHECK(Money::from_minor(7).format(3) == "0.007");
  CHECK(Money::from_minor(1234567).format(6) == "1.234567");
}

TEST_CASE("Money: the largest amount round-trips and one more overflows") {
  const auto max = std::numeric_limits<std::int64_t>::max();
  CHECK(parsed("92233720368547758.07") == max);
  CHECK(Money::from_minor(max).format() == "92233720368547758.07");
  CHECK(rejects("92233720368547758.08"));
  CHECK(rejects("92233720368547758.1"));
  CHECK(rejects("92233720368547759"));
  CHECK(rejects("99999999999999999999999999"));
  CHECK(parsed("9223372036854775807", 0) == max);
  CHECK(rejects("9223372036854775808", 0));
  SUBCASE("negative limit") {
    CHECK(parsed("-92233720368547758.07", 2, true) == -max);
    CHECK(rejects("-92233720368547758.08", 2, true));
  }
}

TEST_CASE("Money: too many decimals is an error, never rounding") {
  CHECK(rejects("1.001"));
  CHECK(rejects("0.005"));
  CHECK(rejects("1.000"));
  CHECK(rejects("1.5", 0));
  CHECK(parsed("1.5", 1) == 15);
  CHECK(rejects("1.55", 1));
}

TEST_CASE("Money: signs are rejected where none belongs") {
  CHECK(rejects("-1"));
  CHECK(rejects("+1"));
  CHECK(rejects("+1", 2, true));
  CHECK(parsed("-1.5", 2, true) == -150);
  CHECK(rejects("--1", 2, true));
  CHECK(rejects("1-", 2, true));
}

TEST_CASE("Money: garbage and whitespace are rejected") {
  for (const char* s : {"", " ", "1 ", " 1", "1 0", "abc", "1a", "1.2.3", ".5", "5.", ".", "-", "1e3", "0x10",
                        "1,5", "١", "1\n", "\t1", "NaN", "inf"}) {
    CAPTURE(s);
    CHECK(rejects(s, 2, true));
  }
}

TEST_CASE("Money: the error names the text and the problem") {
  auto m = Money::parse("1.234");
  REQUIRE_FALSE(m.ok());
  CHECK(std::string(m.error().what()).find("'1.234'") != std::string::npos);
  CHECK(std::string(m.error().what()).find("decimals") != std::string::npos);
  CHECK(m.error().code() == kwh::Exit::data);
}

TEST_CASE("Money: checked arithmetic reports overflow instead of wrapping") {
  auto max = Money::max();
  CHECK_FALSE(max.checked_add(Money::from_minor(1)).has_value());
  CHECK(max.checked_add(Money::from_minor(0)) == max);
  CHECK_FALSE(Money::min().checked_sub(Money::from_minor(1)).has_value());
  CHECK((Money::from_minor(150) + Money::from_minor(-200)).minor() == -50);
  CHECK_THROWS_AS(max + Money::from_minor(1), kwh::Error);
  CHECK((-Money::from_minor(5)).minor() == -5);
}

TEST_CASE("Money: parse and format round-trip for every value near the edges") {
  for (std::int64_t v : {std::int64_t{0}, std::int64_t{1}, std::int64_t{9}, std::int64_t{10}, std::int64_t{99},
                         std::int64_t{100}, std::int64_t{101}, std::int64_t{-1}, std::int64_t{-100},
                         std::numeric_limits<std::int64_t>::max(), -std::numeric_limits<std::int64_t>::max()}) {
    for (int mu = 0; mu <= 6; ++mu) {
      auto text = Money::from_minor(v).format(mu);
      CAPTURE(text);
      CHECK(parsed(text.c_str(), mu, true) == v);
    }
  }
}

TEST_CASE("Price: four decimals exactly") {
  CHECK(Price::parse("1.2")->ten_thousandths() == 12000);
  CHECK(Price::parse("0.3500")->ten_thousandths() == 3500);
  CHECK(Price::parse("0.0001")->ten_thousandths() == 1);
  CHECK(Price::from_ten_thousandths(12000).format() == "1.2000");
  CHECK_FALSE(Price::parse("0.00001").ok());
  CHECK_FALSE(Price::parse("-1").ok());
  CHECK_FALSE(Price::parse("1,2").ok());
}
