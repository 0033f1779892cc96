#pragma once
// kwhd's log: one line per thing that happened, on stderr, where journald adds the time.
// Each line goes out in one write, so that lines from the poll and writer threads never mix.

#include <fmt/format.h>

#include <string_view>

namespace kwh::daemon {

void log_line(std::string_view line);

template <typename... Args> void log(fmt::format_string<Args...> f, Args&&... args) {
  log_line(fmt::format(f, std::forward<Args>(args)...));
}

} // namespace kwh::daemon
