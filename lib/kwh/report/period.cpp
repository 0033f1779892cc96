#include <kwh/report/period.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace kwh::report {

namespace {

UnixTime date_or_throw(const std::string& text) {
  auto d = parse_date(text);
  if (!d) throw d.error();
  return *d;
}

void check_order(const Period& p, const std::optional<std::string>& from, const std::optional<std::string>& to) {
  if (p.from >= p.to)
    fail(Exit::usage, "--from {} is after --to {}", from.value_or("(start of month)"), to.value_or("(today)"));
}

} // namespace

Period period_from_dates(const std::optional<std::string>& from, const std::optional<std::string>& to,
                         UnixTime now) {
  Period p;
  p.to = to ? add_local_days(date_or_throw(*to), 1) : add_local_days(local_day_start(now), 1);
  p.from = from ? date_or_throw(*from) : local_month_start(p.to - 1);
  check_order(p, from, to);
  return p;
}

Period today_or_dates(const std::optional<std::string>& from, const std::optional<std::string>& to, UnixTime now) {
  if (from || to) {
    Period p;
    p.to = to ? add_local_days(date_or_throw(*to), 1) : add_local_days(local_day_start(now), 1);
    p.from = from ? date_or_throw(*from) : local_day_start(p.to - 1);
    check_order(p, from, to);
    return p;
  }
  UnixTime day = local_day_start(now);
  return Period{day, add_local_days(day, 1)};
}

Buckets::Buckets(Period period, Step step) : m_period(period), m_step(step) {
  UnixTime t = step == Step::day     ? local_day_start(period.from)
               : step == Step::month ? local_month_start(period.from)
                                     : local_year_start(period.from);
  while (t < period.to) {
    m_starts.push_back(t);
    t = step == Step::day ? add_local_days(t, 1) : add_local_months(t, step == Step::month ? 1 : 12);
  }
}

std::optional<std::size_t> Buckets::index(UnixTime t) const {
  if (t < m_period.from || t >= m_period.to || m_starts.empty()) return std::nullopt;
  auto it = std::upper_bound(m_starts.begin(), m_starts.end(), t);
  return static_cast<std::size_t>(it - m_starts.begin()) - 1;
}

std::string Buckets::label(std::size_t i) const {
  auto l = to_local(m_starts[i]);
  switch (m_step) {
  case Step::day: return fmt::format("{:04}-{:02}-{:02}", l.year, l.month, l.day);
  case Step::month: return fmt::format("{:04}-{:02}", l.year, l.month);
  case Step::year: return fmt::format("{:04}", l.year);
  }
  return {};
}

} // namespace kwh::report
