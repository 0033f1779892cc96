#include <kwh/daemon/schedule.hpp>
#include <kwh/util/time.hpp>

#include <doctest/doctest.h>

#include <algorithm>

using namespace kwh;
using namespace kwh::daemon;
using namespace std::chrono_literals;

namespace {

// Restores the unit tests' zone (UTC) when a test changes it.
struct ZoneGuard {
  explicit ZoneGuard(const char* zone) { set_site_timezone(zone); }
  ~ZoneGuard() { set_site_timezone("UTC"); }
};

EpochMs ms(UnixTime t) { return t * 1000; }

} // namespace

TEST_CASE("Schedule: 30-minute cycles fall on :00 and :30 site time") {
  ZoneGuard zone("Asia/Shanghai");
  const UnixTime t = from_local(2026, 11, 24, 20, 7, 13);
  const EpochMs next = next_cycle(ms(t) + 456, 30min);
  const auto local = to_local(next / 1000);
  CHECK(next % 1000 == 0);
  CHECK(local.hour == 20);
  CHECK(local.minute == 30);
  CHECK(local.second == 0);
  CHECK(current_cycle(ms(t) + 456, 30min) == ms(from_local(2026, 11, 24, 20, 0, 0)));
  // From a cycle start exactly, the next one is a whole interval later.
  CHECK(next_cycle(next, 30min) == next + 30 * 60 * 1000);
}

TEST_CASE("Schedule: one-second cycles are whole seconds") {
  const EpochMs now = ms(1'800'000'000) + 999;
  CHECK(next_cycle(now, 1s) == ms(1'800'000'001));
  CHECK(next_cycle(ms(1'800'000'001), 1s) == ms(1'800'000'002));
  CHECK(current_cycle(now, 1s) == ms(1'800'000'000));
}

TEST_CASE("Schedule: an interval that does not divide the day restarts at local midnight") {
  ZoneGuard zone("Asia/Shanghai");
  const UnixTime late = from_local(2026, 11, 24, 21, 30, 0);
  // 7 h cycles: 00:00, 07:00, 14:00, 21:00, then the next midnight (not 04:00).
  CHECK(next_cycle(ms(late), 7h) == ms(from_local(2026, 11, 25, 0, 0, 0)));
  CHECK(next_cycle(ms(from_local(2026, 11, 24, 8, 0, 0)), 7h) == ms(from_local(2026, 11, 24, 14, 0, 0)));
}

TEST_CASE("Schedule: polls of one bus are spread over the window, sorted, with jitter") {
  std::mt19937 rng(7);
  auto offsets = spread_offsets(10, 1000ms, rng);
  REQUIRE(offsets.size() == 10);
  for (std::size_t i = 0; i < offsets.size(); ++i) {
    // Slot i starts at i × 100 ms; jitter is at most half a slot.
    CHECK(offsets[i] >= std::chrono::milliseconds(100 * static_cast<long>(i)));
    CHECK(offsets[i] <= std::chrono::milliseconds(100 * static_cast<long>(i) + 50));
    if (i > 0) CHECK(offsets[i] >= offsets[i - 1]);
  }
  CHECK(offsets.back() < 1000ms);
  std::mt19937 other(8);
  CHECK(spread_offsets(10, 1000ms, other) != offsets);
  for (auto o : spread_offsets(5, 0ms, rng)) CHECK(o == 0ms);
  CHECK(spread_window(30min) == 30s);
  CHECK(spread_window(1s) == 250ms);
}

TEST_CASE("Backoff: delays double up to the cap, with jitter in the upper half, and reset") {
  Backoff b(500ms, 8s);
  std::mt19937 rng(1);
  const std::chrono::milliseconds ceilings[] = {500ms, 1s, 2s, 4s, 8s, 8s, 8s};
  for (auto ceiling : ceilings) {
    auto d = b.next(rng);
    CHECK(d >= ceiling / 2);
    CHECK(d <= ceiling);
  }
  CHECK(b.attempts() == 7);
  b.reset();
  CHECK(b.attempts() == 0);
  CHECK(b.next(rng) <= 500ms);
}

TEST_CASE("Backoff: many gateways coming back do not retry in the same instant") {
  // 100 gateways with their own generators, all at their third failure: the delays spread.
  std::vector<std::int64_t> delays;
  for (std::uint32_t g = 0; g < 100; ++g) {
    std::mt19937 rng(g);
    Backoff b(1s, 60s);
    b.next(rng);
    b.next(rng);
    delays.push_back(b.next(rng).count());
  }
  std::sort(delays.begin(), delays.end());
  delays.erase(std::unique(delays.begin(), delays.end()), delays.end());
  CHECK(delays.size() > 80);
  CHECK(delays.front() >= 2000);
  CHECK(delays.back() <= 4000);
}
