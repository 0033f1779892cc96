#pragma once
// Running a hook's program: without a shell (posix_spawn), in a process group of its own, with
// the event on standard input and its standard output and error captured. A program still
// running at the timeout is killed with its whole group (whatever it started too). Blocking:
// kwhd calls it on a thread of its own, never on the event loop.

#include <chrono>
#include <string>
#include <vector>

namespace kwh::hooks {

struct ProgramResult {
  bool ok = false;      // exited 0 within the timeout
  std::string error;    // otherwise one line: how it ended, and the first line it printed
  std::string output;   // what it printed (standard output and error), at most k_output_kept bytes
};

inline constexpr std::size_t k_output_kept = 4096;

// argv[0] is the program's absolute path. `env` entries ("NAME=value") are added to kwhd's
// environment.
ProgramResult run_program(const std::vector<std::string>& argv, const std::string& input,
                          std::chrono::milliseconds timeout, const std::vector<std::string>& env = {});

} // namespace kwh::hooks
