#pragma once
// Writing a file the operator named (report --output, sell --receipt), with one rule for what
// FILE may be, so that a command run as root from cron is never led to replace something else:
//
// - a regular file, or a path that does not exist yet, is written to a new file beside it and
//   renamed onto it once complete: an existing file keeps its mode (and, where we may, its
//   owner), a new one gets 0666 less the umask; a failure leaves FILE as it was and nothing
//   beside it;
// - a symbolic link is refused (Exit::data), whatever it points at, as is a folder;
// - a device (a receipt printer, /dev/stdout) or a FIFO is opened as it is and written in
//   place, never replaced or removed;
// - a missing folder, or one we may not write in, is Exit::failed.
//
// The checks and the opening happen in the constructor, so a caller can find out that FILE
// cannot be written before it does anything else (kwh sell opens the receipt before the sale).

#include <kwh/util/error.hpp>

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

namespace kwh::output {

class OutputFile {
public:
  // `what` names the file in errors ("the receipt "), or is empty. Throws Error.
  explicit OutputFile(std::string path, std::string what = {});
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  // Without commit(): the new file beside FILE is removed, a device is just closed.
  ~OutputFile();

  // Throws Error(failed) when the bytes cannot be written.
  void write(std::string_view bytes);
  // A buffered stream over write(); flushed by commit().
  std::ostream& stream();
  // Flushes and closes, and renames the new file onto FILE. Throws Error(failed).
  void commit();

  const std::string& path() const { return m_path; }
  // Whether FILE is written in place (a device or a FIFO) rather than replaced.
  bool in_place() const { return m_tmp.empty(); }

private:
  // Closes and removes what was opened, then throws Error(code) naming FILE and why.
  [[noreturn]] void fail_with(Exit code, const std::string& why);
  void discard() noexcept;

  std::string m_path, m_what;
  std::string m_tmp; // the new file beside m_path; empty when written in place
  int m_fd = -1;
  bool m_finished = false;       // committed, or failed and cleaned up
  bool m_opened = false;         // the constructor has done its part
  struct Stream;
  std::unique_ptr<Stream> m_stream;
};

// Writes FILE whole through `write` under the rule above.
void write_file(const std::string& path, const std::function<void(std::ostream&)>& write);

} // namespace kwh::output
