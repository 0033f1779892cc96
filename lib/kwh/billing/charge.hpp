#pragma once
// The exact arithmetic of a charge. A price is in 1/10 000 per kWh (or m³) and a quantity in Wh
// (or litres), so the exact cost of one piece is price × quantity × 10^-7 major units. Charges
// are whole minor units rounded down; the remainder is carried to the next charge of the same
// account in accounts.carry, counted in 1e-9 minor units (k_carry_per_minor), so that over any
// span the charged total differs from the exact total by less than one minor unit. All
// intermediates are 128-bit integers.

#include <kwh/billing/tariff.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kwh::billing {

// 128-bit intermediates for exact money arithmetic.
__extension__ typedef __int128 Int128;

inline constexpr std::int64_t k_carry_per_minor = 1'000'000'000;

struct Rounded {
  std::int64_t minor = 0; // charged, minor units (>= 0)
  std::int64_t carry = 0; // the new carry, 0 <= carry < k_carry_per_minor
};

// Charges quantity at price with the account's carry. minor_units is 0..6.
Rounded round_charge(Price price, std::int64_t quantity, int minor_units, std::int64_t carry);

// Splits total into parts proportional to weights (non-negative, not all zero), by largest
// remainder, so that the parts sum to total exactly.
std::vector<std::int64_t> split_proportional(std::int64_t total, const std::vector<std::int64_t>& weights);
// The same into out (out.size() == weights.size()), without allocating for up to 16 parts.
void split_proportional(std::int64_t total, std::span<const std::int64_t> weights, std::span<std::int64_t> out);

// One priced part of a charge: a band of a time-of-use tariff, a tier, or the flat price.
struct Piece {
  std::string band; // flat | sharp | peak | valley | tier1, tier2, ...
  std::int64_t quantity = 0;
  Price price;
};

// The pieces of quantity consumed over (t0, t1] under version v.
// band_deltas: per-band register deltas (sharp, peak, flat, valley) when the meter gives them,
// else empty; used_this_month: what the account already consumed in the site-local month (for
// tiers). Pieces of zero quantity are left out.
std::vector<Piece> price_pieces(const TariffVersion& v, std::int64_t quantity, UnixTime t0, UnixTime t1,
                                const std::vector<std::pair<std::string, std::int64_t>>& band_deltas,
                                std::int64_t used_this_month);
// The same, appending to out: billing's hot path reuses one vector (and a flat tariff or band
// registers allocate nothing then; time-of-use split by time still does).
void price_pieces(const TariffVersion& v, std::int64_t quantity, UnixTime t0, UnixTime t1,
                  std::span<const std::pair<std::string, std::int64_t>> band_deltas, std::int64_t used_this_month,
                  std::vector<Piece>& out);

} // namespace kwh::billing
