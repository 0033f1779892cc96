#include <kwh/billing/charge.hpp>

#include <boost/container/small_vector.hpp>

#include <algorithm>
#include <numeric>

namespace kwh::billing {

namespace {
using i128 = Int128;

i128 pow10(int n) {
  i128 r = 1;
  while (n-- > 0) r *= 10;
  return r;
}
} // namespace

Rounded round_charge(Price price, std::int64_t quantity, int minor_units, std::int64_t carry) {
  if (quantity < 0 || price.ten_thousandths() < 0) fail(Exit::data, "a charge needs a non-negative quantity and price");
  // price [1e-4/kWh] × quantity [Wh] = 1e-7 major units = 10^(minor_units - 7) minor units
  // = 10^(minor_units + 2) carry units (1e-9 minor).
  i128 product = i128(price.ten_thousandths()) * quantity;
  i128 scale = pow10(minor_units + 2);
  constexpr i128 k_max = (i128(1) << 120);
  if (product > k_max / scale) fail(Exit::data, "a charge of {} Wh at {} does not fit", quantity, price.format());
  i128 exact = product * scale + carry;
  i128 minor = exact / k_carry_per_minor;
  if (minor > i128(INT64_MAX)) fail(Exit::data, "a charge of {} Wh at {} does not fit", quantity, price.format());
  return {static_cast<std::int64_t>(minor), static_cast<std::int64_t>(exact % k_carry_per_minor)};
}

std::vector<std::int64_t> split_proportional(std::int64_t total, const std::vector<std::int64_t>& weights) {
  std::vector<std::int64_t> parts(weights.size(), 0);
  split_proportional(total, weights, parts);
  return parts;
}

void split_proportional(std::int64_t total, std::span<const std::int64_t> weights, std::span<std::int64_t> parts) {
  std::fill(parts.begin(), parts.end(), 0);
  i128 sum = 0;
  for (auto w : weights) sum += w;
  if (sum <= 0 || weights.empty()) return;
  if (weights.size() == 1) {
    parts[0] = total;
    return;
  }
  // Largest remainder; ties go to the earlier part (a stable order).
  boost::container::small_vector<std::pair<i128, std::size_t>, 16> remainders;
  std::int64_t given = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    i128 num = i128(total) * weights[i];
    parts[i] = static_cast<std::int64_t>(num / sum);
    remainders.push_back({num % sum, i});
    given += parts[i];
  }
  std::stable_sort(remainders.begin(), remainders.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (std::size_t k = 0; given < total && k < remainders.size(); ++k, ++given) ++parts[remainders[k].second];
}

std::vector<Piece> price_pieces(const TariffVersion& v, std::int64_t quantity, UnixTime t0, UnixTime t1,
                                const std::vector<std::pair<std::string, std::int64_t>>& band_deltas,
                                std::int64_t used_this_month) {
  std::vector<Piece> out;
  price_pieces(v, quantity, t0, t1, band_deltas, used_this_month, out);
  return out;
}

void price_pieces(const TariffVersion& v, std::int64_t quantity, UnixTime t0, UnixTime t1,
                  std::span<const std::pair<std::string, std::int64_t>> band_deltas, std::int64_t used_this_month,
                  std::vector<Piece>& out) {
  if (quantity <= 0) return;
  switch (v.kind) {
  case TariffKind::flat:
    out.push_back({"flat", quantity, v.flat_price});
    break;
  case TariffKind::tou: {
    if (!band_deltas.empty()) {
      // The meter's own band registers; a band the tariff has no price for is charged as flat.
      for (const auto& [band, q] : band_deltas) {
        if (q <= 0) continue;
        auto it = v.bands.find(band);
        out.push_back({band, q, it != v.bands.end() ? it->second : v.bands.at("flat")});
      }
      break;
    }
    auto secs = v.band_seconds(t0, t1);
    std::vector<std::string> names;
    std::vector<std::int64_t> weights;
    for (const auto& [band, s] : secs) {
      names.push_back(band);
      weights.push_back(s);
    }
    if (weights.empty()) { // t0 == t1 cannot happen for a charge; be safe
      names.push_back(v.band_at(t1));
      weights.push_back(1);
    }
    auto parts = split_proportional(quantity, weights);
    for (std::size_t i = 0; i < names.size(); ++i)
      if (parts[i] > 0) out.push_back({names[i], parts[i], v.band_price(names[i])});
    break;
  }
  case TariffKind::tiers: {
    std::int64_t used = std::max<std::int64_t>(used_this_month, 0);
    std::int64_t left = quantity;
    for (std::size_t i = 0; i < v.tiers.size() && left > 0; ++i) {
      const auto& tier = v.tiers[i];
      std::int64_t take = left;
      if (tier.upto) {
        if (used >= *tier.upto) continue;
        take = std::min(left, *tier.upto - used);
      }
      out.push_back({"tier" + std::to_string(i + 1), take, tier.price});
      used += take;
      left -= take;
    }
    break;
  }
  }
}

} // namespace kwh::billing
