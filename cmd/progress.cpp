#include "progress.hpp"

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <unistd.h>

namespace kwh::cli {

namespace {
bool stderr_is_terminal() {
  const char* term = std::getenv("TERM");
  if (term && std::string_view(term) == "dumb") return false;
  return ::isatty(STDERR_FILENO) == 1;
}
} // namespace

Progress::Progress(bool wanted) : m_on(wanted && stderr_is_terminal()) {}

Progress::~Progress() { clear(); }

void Progress::show(const std::string& text, bool now) {
  if (!m_on) return;
  auto t = std::chrono::steady_clock::now();
  if (m_drawn && !now && t - m_last < std::chrono::milliseconds(200)) return;
  m_last = t;
  m_drawn = true;
  // Carriage return, the text, then erase to the end of the line (ECMA-48 EL).
  std::fprintf(stderr, "\r%s\033[K", text.c_str());
  std::fflush(stderr);
}

void Progress::clear() {
  if (!m_drawn) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  m_drawn = false;
}

} // namespace kwh::cli
