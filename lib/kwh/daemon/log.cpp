#include <kwh/daemon/log.hpp>

#include <string>
#include <unistd.h>

namespace kwh::daemon {

void log_line(std::string_view line) {
  std::string out;
  out.reserve(line.size() + 7);
  out += "kwhd: ";
  out += line;
  out += '\n';
  const char* p = out.data();
  std::size_t left = out.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) return; // stderr gone: nothing better to do
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

} // namespace kwh::daemon
