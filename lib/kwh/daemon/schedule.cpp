#include <kwh/daemon/schedule.hpp>

#include <kwh/util/time.hpp>

#include <algorithm>

namespace kwh::daemon {

EpochMs now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {

EpochMs floor_div_ms(EpochMs a, EpochMs b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

} // namespace

EpochMs current_cycle(EpochMs now, std::chrono::milliseconds interval) {
  const EpochMs step = std::max<EpochMs>(interval.count(), 1);
  const UnixTime now_s = static_cast<UnixTime>(floor_div_ms(now, 1000));
  const EpochMs day = local_day_start(now_s) * 1000;
  return day + floor_div_ms(now - day, step) * step;
}

EpochMs next_cycle(EpochMs now, std::chrono::milliseconds interval) {
  const EpochMs step = std::max<EpochMs>(interval.count(), 1);
  const EpochMs candidate = current_cycle(now, interval) + step;
  // A day that is not a whole number of intervals (or a DST day) restarts at local midnight.
  const UnixTime now_s = static_cast<UnixTime>(floor_div_ms(now, 1000));
  const EpochMs next_day = add_local_days(local_day_start(now_s), 1) * 1000;
  return std::min(candidate, next_day);
}

std::chrono::milliseconds spread_window(std::chrono::milliseconds interval) {
  return std::min(interval / 4, std::chrono::milliseconds(30'000));
}

std::vector<std::chrono::milliseconds> spread_offsets(std::size_t count, std::chrono::milliseconds window,
                                                      std::mt19937& rng) {
  std::vector<std::chrono::milliseconds> out(count, std::chrono::milliseconds(0));
  if (count == 0 || window.count() <= 0) return out;
  const double slot = static_cast<double>(window.count()) / static_cast<double>(count);
  std::uniform_real_distribution<double> jitter(0.0, slot / 2);
  for (std::size_t i = 0; i < count; ++i)
    out[i] = std::chrono::milliseconds(static_cast<std::int64_t>(slot * static_cast<double>(i) + jitter(rng)));
  std::sort(out.begin(), out.end());
  return out;
}

std::chrono::milliseconds Backoff::ceiling(unsigned attempt) const {
  auto d = m_base;
  for (unsigned i = 0; i < attempt && d < m_cap; ++i) d *= 2;
  return std::min(d, m_cap);
}

std::chrono::milliseconds Backoff::next(std::mt19937& rng) {
  const auto d = ceiling(m_attempt);
  if (m_attempt < 64) ++m_attempt;
  std::uniform_int_distribution<std::int64_t> pick(d.count() / 2, d.count());
  return std::chrono::milliseconds(pick(rng));
}

} // namespace kwh::daemon
