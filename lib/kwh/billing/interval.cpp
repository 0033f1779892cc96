#include <kwh/billing/interval.hpp>

#include <algorithm>

namespace kwh::billing {

std::vector<Share> share_interval(const Counters& prev, const Counters& now, const std::vector<Span>& spans) {
  const UnixTime t0 = prev.t, t1 = now.t;
  const std::int64_t delta = now.value - prev.value;
  std::vector<Share> shares;
  std::int64_t covered = 0;
  for (const auto& a : spans) {
    if (a.from >= t1 || (a.to && *a.to <= t0)) continue;
    UnixTime from = std::max(t0, a.from);
    UnixTime to = a.to ? std::min(t1, *a.to) : t1;
    if (to <= from) continue;
    covered += to - from;
    shares.push_back({a.account_id, a.tariff_id, from, to, 0, {}});
  }
  if (covered < t1 - t0) shares.push_back({0, 0, t0, t0 + (t1 - t0 - covered), 0, {}});

  std::vector<std::int64_t> weights;
  weights.reserve(shares.size());
  for (const auto& s : shares) weights.push_back(s.to - s.from);
  std::vector<std::int64_t> quantities = split_proportional(delta, weights);
  for (std::size_t i = 0; i < shares.size(); ++i) shares[i].quantity = quantities[i];

  // Per-band register deltas, when both readings have them and none went backwards.
  BandDeltas band_deltas;
  const std::optional<std::int64_t> now_regs[] = {now.sharp, now.peak, now.flat, now.valley};
  const std::optional<std::int64_t> then_regs[] = {prev.sharp, prev.peak, prev.flat, prev.valley};
  bool usable = false, broken = false;
  for (int i = 0; i < 4; ++i) {
    if (now_regs[i].has_value() != then_regs[i].has_value()) broken = true;
    if (now_regs[i] && then_regs[i]) {
      std::int64_t d = *now_regs[i] - *then_regs[i];
      if (d < 0) broken = true;
      band_deltas.push_back({k_bands[static_cast<std::size_t>(i)], d});
      usable = true;
    }
  }
  if (usable && !broken) {
    for (const auto& [band, d] : band_deltas) {
      auto part = split_proportional(d, weights);
      for (std::size_t i = 0; i < shares.size(); ++i) shares[i].bands.push_back({band, part[i]});
    }
  }
  return shares;
}

void price_share(const TariffHistory& history, UnixTime t0, UnixTime t1, std::int64_t quantity,
                 const BandDeltas& band_deltas, std::int64_t& used, std::vector<Priced>& out) {
  if (quantity <= 0) return;
  if (history.versions().empty()) fail(Exit::data, "a tariff has no versions");
  // A new version that starts inside (t0, t1] splits the interval; each part is priced by the
  // version in force in it, its quantity pro rata by time.
  std::vector<UnixTime> cuts{t0};
  for (const auto& sv : history.versions())
    if (sv.version.effective > t0 && sv.version.effective < t1) cuts.push_back(sv.version.effective);
  cuts.push_back(t1);
  if (cuts.size() == 2) {
    const StoredVersion* sv = history.in_force(t0);
    for (auto& piece : price_pieces(sv->version, quantity, t0, t1, band_deltas, used)) {
      used += piece.quantity;
      out.push_back({sv, t0, t1, std::move(piece)});
    }
    return;
  }
  std::vector<std::int64_t> weights;
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) weights.push_back(cuts[i + 1] - cuts[i]);
  std::vector<std::int64_t> quantities = split_proportional(quantity, weights);
  std::vector<std::vector<std::int64_t>> band_shares;
  for (const auto& bd : band_deltas) band_shares.push_back(split_proportional(bd.second, weights));
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
    BandDeltas bands;
    for (std::size_t b = 0; b < band_deltas.size(); ++b) bands.push_back({band_deltas[b].first, band_shares[b][i]});
    const StoredVersion* sv = history.in_force(cuts[i]);
    for (auto& piece : price_pieces(sv->version, quantities[i], cuts[i], cuts[i + 1], bands, used)) {
      used += piece.quantity;
      out.push_back({sv, cuts[i], cuts[i + 1], std::move(piece)});
    }
  }
}

} // namespace kwh::billing
