#include "temp_dir.hpp"

#include <kwh/daemon/metrics.hpp>
#include <kwh/daemon/notify.hpp>

#include <doctest/doctest.h>

#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace kwh::daemon;

namespace {

// A datagram socket standing in for systemd's notify socket.
struct Listener {
  int fd = -1;
  explicit Listener(const std::string& name) {
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Listener() { ::close(fd); }
  std::string receive() {
    char buf[512];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
};

} // namespace

TEST_CASE("Notify: READY, STATUS and STOPPING reach a socket named by a path") {
  kwh::test::TempDir dir;
  auto path = dir.file("notify");
  Listener l(path);
  Notifier n(path);
  REQUIRE(n.enabled());
  CHECK(n.ready());
  CHECK(l.receive() == "READY=1");
  CHECK(n.status("polling 3 of 4 meters, 1 offline"));
  CHECK(l.receive() == "STATUS=polling 3 of 4 meters, 1 offline");
  CHECK(n.stopping());
  CHECK(l.receive() == "STOPPING=1");
}

TEST_CASE("Notify: an abstract socket name (@...) works too") {
  std::string name = "@kwh-test-notify-" + std::to_string(::getpid());
  Listener l(name);
  Notifier n(name);
  CHECK(n.watchdog());
  CHECK(l.receive() == "WATCHDOG=1");
}

TEST_CASE("Notify: without NOTIFY_SOCKET nothing is sent; the watchdog period is half of WATCHDOG_USEC") {
  ::unsetenv("NOTIFY_SOCKET");
  auto off = Notifier::from_environment();
  CHECK_FALSE(off.enabled());
  CHECK_FALSE(off.ready());
  Notifier with("/nonexistent/notify", std::chrono::microseconds(10'000'000));
  CHECK(with.watchdog_period() == std::chrono::milliseconds(5000));
}

TEST_CASE("Metrics: the exposition has the counters, gauges and histograms by their names") {
  Metrics m;
  m.count_poll(PollResult::ok);
  m.count_poll(PollResult::ok);
  m.count_poll(PollResult::timeout);
  m.poll_duration.observe(0.02);
  m.poll_duration.observe(3);
  m.meters_online = 5;
  m.readings_written = 2;
  m.count_command(CommandResult::done);
  auto text = m.render();
  CHECK(text.find("kwh_polls_total{result=\"ok\"} 2\n") != std::string::npos);
  CHECK(text.find("kwh_polls_total{result=\"timeout\"} 1\n") != std::string::npos);
  CHECK(text.find("kwh_polls_total{result=\"connection\"} 0\n") != std::string::npos);
  CHECK(text.find("kwh_poll_duration_seconds_bucket{le=\"0.025\"} 1\n") != std::string::npos);
  CHECK(text.find("kwh_poll_duration_seconds_bucket{le=\"+Inf\"} 2\n") != std::string::npos);
  CHECK(text.find("kwh_poll_duration_seconds_count 2\n") != std::string::npos);
  CHECK(text.find("kwh_meters{status=\"online\"} 5\n") != std::string::npos);
  CHECK(text.find("kwh_commands_total{result=\"done\"} 1\n") != std::string::npos);
  CHECK(text.find("kwh_readings_written_total 2\n") != std::string::npos);
  CHECK(text.find("# TYPE kwh_db_write_seconds histogram\n") != std::string::npos);
}
