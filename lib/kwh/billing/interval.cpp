#include <kwh/billing/interval.hpp>

#include <boost/container/small_vector.hpp>

#include <algorithm>

namespace kwh::billing {

void share_interval(const Counters& prev, const Counters& now, const std::vector<Span>& spans, std::vector<Share>& out) {
  const UnixTime t0 = prev.t, t1 = now.t;
  const std::int64_t delta = now.value - prev.value;
  out.clear();
  std::int64_t covered = 0;
  for (const auto& a : spans) {
    if (a.from >= t1 || (a.to && *a.to <= t0)) continue;
    UnixTime from = std::max(t0, a.from);
    UnixTime to = a.to ? std::min(t1, *a.to) : t1;
    if (to <= from) continue;
    covered += to - from;
    Share& s = out.emplace_back();
    s.account_id = a.account_id, s.tariff_id = a.tariff_id, s.from = from, s.to = to, s.band_count = 0;
  }
  if (covered < t1 - t0) {
    Share& s = out.emplace_back();
    s.account_id = 0, s.tariff_id = 0, s.from = t0, s.to = t0 + (t1 - t0 - covered), s.band_count = 0;
  }

  boost::container::small_vector<std::int64_t, 4> weights, parts(out.size());
  for (const auto& s : out) weights.push_back(s.to - s.from);
  split_proportional(delta, std::span<const std::int64_t>(weights.data(), weights.size()),
                     std::span<std::int64_t>(parts.data(), parts.size()));
  for (std::size_t i = 0; i < out.size(); ++i) out[i].quantity = parts[i];

  // Per-band register deltas, when both readings have them and none went backwards.
  const std::optional<std::int64_t> now_regs[] = {now.sharp, now.peak, now.flat, now.valley};
  const std::optional<std::int64_t> then_regs[] = {prev.sharp, prev.peak, prev.flat, prev.valley};
  std::array<std::int64_t, 4> d{};
  std::array<int, 4> which{};
  std::size_t n = 0;
  for (int i = 0; i < 4; ++i) {
    if (now_regs[i].has_value() != then_regs[i].has_value()) return;
    if (now_regs[i] && then_regs[i]) {
      d[n] = *now_regs[i] - *then_regs[i];
      if (d[n] < 0) return;
      which[n++] = i;
    }
  }
  for (std::size_t b = 0; b < n; ++b) {
    split_proportional(d[b], std::span<const std::int64_t>(weights.data(), weights.size()),
                       std::span<std::int64_t>(parts.data(), parts.size()));
    for (std::size_t i = 0; i < out.size(); ++i) {
      auto& slot = out[i].band_array[b];
      slot.first = k_bands[static_cast<std::size_t>(which[b])];
      slot.second = parts[i];
      out[i].band_count = n;
    }
  }
}

void price_share(const TariffHistory& history, UnixTime t0, UnixTime t1, std::int64_t quantity,
                 const BandDeltas& band_deltas, std::int64_t& used, std::vector<Priced>& out) {
  if (quantity <= 0) return;
  if (history.versions().empty()) fail(Exit::data, "a tariff has no versions");
  // A new version that starts inside (t0, t1] splits the interval; each part is priced by the
  // version in force in it, its quantity pro rata by time.
  boost::container::small_vector<UnixTime, 4> cuts{t0};
  for (const auto& sv : history.versions())
    if (sv.version.effective > t0 && sv.version.effective < t1) cuts.push_back(sv.version.effective);
  cuts.push_back(t1);
  thread_local std::vector<Piece> pieces;
  if (cuts.size() == 2) {
    const StoredVersion* sv = history.in_force(t0);
    pieces.clear();
    price_pieces(sv->version, quantity, t0, t1, band_deltas, used, pieces);
    for (auto& piece : pieces) {
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
    std::vector<std::pair<std::string, std::int64_t>> bands;
    for (std::size_t b = 0; b < band_deltas.size(); ++b) bands.push_back({band_deltas[b].first, band_shares[b][i]});
    const StoredVersion* sv = history.in_force(cuts[i]);
    pieces.clear();
    price_pieces(sv->version, quantities[i], cuts[i], cuts[i + 1], bands, used, pieces);
    for (auto& piece : pieces) {
      used += piece.quantity;
      out.push_back({sv, cuts[i], cuts[i + 1], std::move(piece)});
    }
  }
}

} // namespace kwh::billing
