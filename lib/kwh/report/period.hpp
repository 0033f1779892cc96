#pragma once
// The span a report covers and how it is cut into periods. Both are site-local: a day, month
// or year starts at the site's midnight, so that a report agrees with the office's calendar
// and with daily_usage (whose `day` is the UTC time of the site-local midnight).

#include <kwh/util/time.hpp>

#include <optional>
#include <string>
#include <vector>

namespace kwh::report {

// [from, to) in UTC seconds.
struct Period {
  UnixTime from = 0;
  UnixTime to = 0;
};

// --from/--to are site-local dates, both inclusive (--to covers its whole day). Without them:
// the current month to date (today included); with only --from: up to today; with only --to:
// from the start of that date's month. Errors: a bad date (65), --from after --to (64).
Period period_from_dates(const std::optional<std::string>& from, const std::optional<std::string>& to,
                         UnixTime now);
// The same, but without dates: today only (reconcile's default).
Period today_or_dates(const std::optional<std::string>& from, const std::optional<std::string>& to, UnixTime now);

enum class Step { day, month, year };

// Cuts a period into site-local days, months or years. The first bucket starts at the
// start of the day/month/year that holds period.from, the last one ends at or after period.to.
class Buckets {
public:
  Buckets(Period period, Step step);
  std::size_t size() const { return m_starts.size(); }
  // The bucket holding t; nullopt outside the period.
  std::optional<std::size_t> index(UnixTime t) const;
  UnixTime start(std::size_t i) const { return m_starts[i]; }
  // "2026-11-24", "2026-11" or "2026".
  std::string label(std::size_t i) const;

private:
  Period m_period;
  Step m_step;
  std::vector<UnixTime> m_starts;
};

} // namespace kwh::report
