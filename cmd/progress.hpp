#pragma once
// A one-line progress display on standard error for long commands, such as
// "kwh: importing readings.csv: billing 1234567 of 2920000 readings (42%)". It is drawn only
// when standard error is a terminal and the command was not given -q, redrawn at most five
// times a second, and cleared when it is destroyed, so that the command's own output and any
// error stand alone.

#include <chrono>
#include <string>

namespace kwh::cli {

class Progress {
public:
  explicit Progress(bool wanted);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Replaces the line with text. The first call, and one with now set (a new phase of the work),
  // draw at once; the others at most every 200 ms.
  void show(const std::string& text, bool now = false);
  void clear();

private:
  bool m_on;
  bool m_drawn = false;
  std::chrono::steady_clock::time_point m_last{};
};

} // namespace kwh::cli
