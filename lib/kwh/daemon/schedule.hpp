#pragma once
// When kwhd polls: cycles aligned to whole multiples of [poll] interval in site time (interval
// 30m polls at :00 and :30 local), polls on one bus spread over the first part of a cycle with
// jitter, and exponential backoff with jitter for reconnects and command retries, so that many
// gateways coming back at once do not all reconnect in the same instant.

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

namespace kwh::daemon {

// Milliseconds since the Unix epoch (UTC): the daemon's wall clock, finer than UnixTime.
using EpochMs = std::int64_t;
EpochMs now_ms();

// The first cycle start strictly after `now`: local midnight of now's site-local day plus a
// whole multiple of `interval`. A day that is not a multiple of the interval restarts at the
// next local midnight, so that cycles stay at the same local times every day (DST included).
EpochMs next_cycle(EpochMs now, std::chrono::milliseconds interval);
// The start of the cycle `now` is in (the latest cycle start at or before now).
EpochMs current_cycle(EpochMs now, std::chrono::milliseconds interval);

// How long the polls of one bus may be spread after the cycle start: a quarter of the
// interval, at most 30 s, so that readings stamped with the cycle's time are read close to it.
std::chrono::milliseconds spread_window(std::chrono::milliseconds interval);

// Offsets from the cycle start for `count` polls on one bus: evenly spaced over `window`, each
// moved by up to half a slot of jitter. Sorted. An empty window gives all zeros (poll at once).
std::vector<std::chrono::milliseconds> spread_offsets(std::size_t count, std::chrono::milliseconds window,
                                                      std::mt19937& rng);

// Exponential backoff with "equal jitter": the n-th delay (n from 0) is uniformly drawn from
// [d/2, d] where d = min(cap, base × 2^n). Reset after a success.
class Backoff {
public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap) : m_base(base), m_cap(cap) {}
  std::chrono::milliseconds next(std::mt19937& rng);
  void reset() { m_attempt = 0; }
  unsigned attempts() const { return m_attempt; }
  // The ceiling of the n-th delay (without jitter).
  std::chrono::milliseconds ceiling(unsigned attempt) const;

private:
  std::chrono::milliseconds m_base, m_cap;
  unsigned m_attempt = 0;
};

} // namespace kwh::daemon
