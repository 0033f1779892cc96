#include <kwh/hooks/program.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace kwh::hooks {

namespace {

// Closes what it holds when it goes out of scope.
struct Fd {
  int fd = -1;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// A program that exits without reading its input makes the write fail with SIGPIPE, which would
// end kwhd: blocked on this thread while the program runs, so that write() says EPIPE instead,
// and one left pending is taken before the mask is restored.
struct NoSigpipe {
  sigset_t pipe_only{}, old{};
  NoSigpipe() {
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  }
  ~NoSigpipe() {
    timespec zero{};
    while (sigtimedwait(&pipe_only, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
};

std::string first_line(const std::string& text) {
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (!line.empty()) return line.size() > 200 ? line.substr(0, 200) : line;
    start = end + 1;
  }
  return {};
}

// The first line printed, after how it ended: "exit 1: gateway said 503".
std::string reason(std::string how, const std::string& output) {
  auto line = first_line(output);
  return line.empty() ? how : how + ": " + line;
}

} // namespace

ProgramResult run_program(const std::vector<std::string>& argv, const std::string& input,
                          std::chrono::milliseconds timeout, const std::vector<std::string>& env) {
  ProgramResult res;
  NoSigpipe no_sigpipe;
  int in_pipe[2], out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) {
    res.error = fmt::format("cannot make a pipe: {}", std::strerror(errno));
    return res;
  }
  Fd in_read{in_pipe[0]}, in_write{in_pipe[1]};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    res.error = fmt::format("cannot make a pipe: {}", std::strerror(errno));
    return res;
  }
  Fd out_read{out_pipe[0]}, out_write{out_pipe[1]};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_read.fd, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.fd, 1);
  posix_spawn_file_actions_adddup2(&actions, out_write.fd, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group, to kill all of it at the timeout; no signal blocked (this thread
  // blocks SIGPIPE) and the usual ones at their defaults, so that the program's pipelines behave.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&defaults, s);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_text;
  for (char** e = environ; e && *e; ++e) env_text.emplace_back(*e);
  for (const auto& e : env) env_text.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, argv.at(0).c_str(), &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    res.error = fmt::format("cannot run {}: {}", argv[0], std::strerror(rc));
    return res;
  }
  in_read.reset();
  out_write.reset();

  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + timeout;
  ::fcntl(in_write.fd, F_SETFL, O_NONBLOCK);
  ::fcntl(out_read.fd, F_SETFL, O_NONBLOCK);
  std::size_t written = 0;
  if (input.empty()) in_write.reset();
  bool exited = false, timed_out = false;
  int status = 0;
  char buf[4096];
  auto drain = [&] {
    for (;;) {
      const ssize_t n = ::read(out_read.fd, buf, sizeof buf);
      if (n <= 0) return n == 0; // true: end of output
      if (res.output.size() < k_output_kept)
        res.output.append(buf, std::min<std::size_t>(static_cast<std::size_t>(n), k_output_kept - res.output.size()));
    }
  };
  bool output_open = true;
  while (!exited) {
    pollfd fds[2];
    nfds_t count = 0;
    if (output_open) fds[count++] = {out_read.fd, POLLIN, 0};
    if (in_write.fd >= 0) fds[count++] = {in_write.fd, POLLOUT, 0};
    // Short waits, so that a program that exited is noticed even while something it started
    // keeps its output open.
    ::poll(fds, count, 50);
    if (in_write.fd >= 0) {
      const ssize_t n = ::write(in_write.fd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      // Done, or the program closed its standard input (EPIPE).
      if (written == input.size() || (n < 0 && errno != EAGAIN && errno != EINTR)) in_write.reset();
    }
    if (output_open && drain()) output_open = false;
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      exited = true;
    } else if (clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      exited = timed_out = true;
    }
  }
  if (output_open) drain();
  if (timed_out) {
    res.error = reason(fmt::format("timed out after {} s, killed", std::chrono::duration<double>(timeout).count()),
                       res.output);
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    res.ok = true;
  } else if (WIFEXITED(status)) {
    res.error = reason(fmt::format("exit {}", WEXITSTATUS(status)), res.output);
  } else if (WIFSIGNALED(status)) {
    res.error = reason(fmt::format("killed by signal {}", WTERMSIG(status)), res.output);
  } else {
    res.error = "ended abnormally";
  }
  return res;
}

} // namespace kwh::hooks
