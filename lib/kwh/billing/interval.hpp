#pragma once
// The pure arithmetic of charging one interval between two readings of a meter, shared by the
// billing engine (Biller) and by `kwh check`, which replays it over the stored readings to
// prove what the open accumulators hold.
//
// share_interval: Δ over (t0, t1] is shared pro rata by time between the accounts the meter
// belonged to in that interval; the part outside any assignment, or of a closed account, is
// nobody's (account 0). Per-band register deltas, when both readings have them and none went
// backwards, are shared out the same way.
// price_share: one account's share, split where a new tariff version starts (pro rata by
// time), each part priced by the version in force in it (price_pieces).

#include <kwh/billing/charge.hpp>
#include <kwh/billing/tariff.hpp>

#include <array>
#include <cstdint>
#include <span>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kwh::billing {

// An assignment of the meter: [from, to). account_id 0 when the account is closed.
struct Span {
  std::int64_t account_id = 0;
  std::int64_t tariff_id = 0;
  UnixTime from = 0;
  std::optional<UnixTime> to;
};

// A reading's counters.
struct Counters {
  UnixTime t = 0;
  std::int64_t value = 0;
  std::optional<std::int64_t> sharp, peak, flat, valley;
};

using BandDeltas = std::span<const std::pair<std::string, std::int64_t>>;

struct Share {
  std::int64_t account_id = 0; // 0: nobody's
  std::int64_t tariff_id = 0;
  UnixTime from = 0, to = 0;
  std::int64_t quantity = 0;
  // This share of each band register's delta; none when they are not usable.
  std::array<std::pair<std::string, std::int64_t>, 4> band_array;
  std::size_t band_count = 0;
  BandDeltas bands() const { return {band_array.data(), band_count}; }
};

// The shares of now.value - prev.value (>= 0) over (prev.t, now.t]; they sum to it exactly.
// Into out (cleared first; billing reuses one vector, so nothing is allocated per reading).
void share_interval(const Counters& prev, const Counters& now, const std::vector<Span>& spans, std::vector<Share>& out);

struct Priced {
  const StoredVersion* version = nullptr;
  UnixTime from = 0, to = 0; // the part of the share this version priced
  Piece piece;
};

// The priced pieces of a share over (t0, t1], appended to out. used: the account's consumption
// so far in the site-local month (for tiers), advanced by what is priced here. Pieces of zero
// quantity are left out. Error(data) for a tariff without versions.
void price_share(const TariffHistory& history, UnixTime t0, UnixTime t1, std::int64_t quantity,
                 const BandDeltas& band_deltas, std::int64_t& used, std::vector<Priced>& out);

} // namespace kwh::billing
