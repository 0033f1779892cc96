#include <doctest/doctest.h>

#include <kwh/billing/charge.hpp>

#include <random>

using namespace kwh;
using namespace kwh::billing;

TEST_CASE("Billing: charges round down and carry the remainder, as docs/contract.md's example") {
  auto price = Price::from_ten_thousandths(10'000); // 1.0000 per kWh
  auto a = round_charge(price, 12'345, 2, 0);
  CHECK(a.minor == 1'234);               // 12.34 charged
  CHECK(a.carry == 500'000'000);         // 0.005 = half a minor unit carried
  auto b = round_charge(price, 5, 2, a.carry);
  CHECK(b.minor == 1);                   // then 5 Wh -> 0.01
  CHECK(b.carry == 0);
  // Zero decimals of money, and six.
  CHECK(round_charge(price, 1'500, 0, 0).minor == 1);
  CHECK(round_charge(Price::from_ten_thousandths(1), 1, 6, 0).minor == 0);
  CHECK(round_charge(Price::from_ten_thousandths(1), 1, 6, 0).carry == 100'000'000);
}

TEST_CASE("Billing: the carry never drifts over a million random charges") {
  std::mt19937_64 rng(20261124);
  std::uniform_int_distribution<std::int64_t> price_d(1, 99'999), qty_d(0, 50'000);
  for (int minor_units : {2, 0, 3}) {
    CAPTURE(minor_units);
    std::int64_t carry = 0;
    std::int64_t charged = 0;
    Int128 exact = 0; // in units of 10^-7 major
    for (int i = 0; i < 1'000'000; ++i) {
      auto price = Price::from_ten_thousandths(price_d(rng));
      std::int64_t q = qty_d(rng);
      auto r = round_charge(price, q, minor_units, carry);
      carry = r.carry;
      charged += r.minor;
      exact += Int128(price.ten_thousandths()) * q;
    }
    // exact in minor units = exact × 10^(minor_units - 7); compare in 10^-7 major units.
    Int128 scale = 1;
    for (int i = 0; i < 7 - minor_units; ++i) scale *= 10;
    Int128 diff = exact - Int128(charged) * scale;
    CHECK(diff >= 0);
    CHECK(diff < scale); // less than one minor unit
  }
}

TEST_CASE("Billing: proportional splits add up exactly") {
  auto p = split_proportional(10, {1, 1, 1});
  CHECK(p[0] + p[1] + p[2] == 10);
  CHECK(p[0] == 4);
  auto q = split_proportional(1'000, {3600, 0, 1800});
  CHECK(q[0] == 667);
  CHECK(q[1] == 0);
  CHECK(q[2] == 333);
  CHECK(split_proportional(5, {0, 0}) == std::vector<std::int64_t>{0, 0});
}
