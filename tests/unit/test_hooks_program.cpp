#include <doctest/doctest.h>

#include "temp_dir.hpp"

#include <kwh/hooks/program.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace kwh;
using namespace std::chrono_literals;

namespace {
std::string script(const test::TempDir& d, const std::string& name, const std::string& body) {
  auto p = d.file(name);
  std::ofstream(p) << "#!/bin/sh\n" << body;
  std::filesystem::permissions(p, std::filesystem::perms::owner_all);
  return p;
}
} // namespace

TEST_CASE("Hooks: a program reads the event on stdin, and its exit and first line are the outcome") {
  test::TempDir d;
  auto copy = script(d, "copy.sh", "cat > \"$1\"; echo \"$KWH_HOOK_KIND $KWH_HOOK_ID\" > \"$1.env\"\n");
  auto r = hooks::run_program({copy, d.file("got")}, R"({"kind": "payment"})", 5s, {"KWH_HOOK_KIND=payment", "KWH_HOOK_ID=7"});
  CHECK(r.ok);
  CHECK(r.error.empty());
  std::ifstream got(d.file("got")), env(d.file("got.env"));
  std::string text((std::istreambuf_iterator<char>(got)), {}), env_text((std::istreambuf_iterator<char>(env)), {});
  CHECK(text == R"({"kind": "payment"})");
  CHECK(env_text == "payment 7\n");

  auto bad = script(d, "bad.sh", "echo\necho 'gateway said 503' >&2\necho more\nexit 3\n");
  r = hooks::run_program({bad}, "{}", 5s);
  CHECK(!r.ok);
  CHECK(r.error == "exit 3: gateway said 503");

  // A program that ignores its input and exits: no SIGPIPE for the caller.
  auto quick = script(d, "quick.sh", "exit 0\n");
  r = hooks::run_program({quick}, std::string(1 << 20, 'x'), 5s);
  CHECK(r.ok);

  r = hooks::run_program({d.file("missing")}, "{}", 5s);
  CHECK(!r.ok);
  CHECK(r.error.find("cannot run") == 0);
}

TEST_CASE("Hooks: a program past its timeout is killed with everything it started") {
  test::TempDir d;
  auto slow = script(d, "slow.sh", "echo starting\nsleep 30 &\necho $! > \"$1\"\nsleep 30\n");
  const auto started = std::chrono::steady_clock::now();
  auto r = hooks::run_program({slow, d.file("child")}, "{}", 1s);
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  CHECK(!r.ok);
  CHECK(r.error == "timed out after 1 s, killed: starting");
  std::ifstream in(d.file("child"));
  int child = 0;
  in >> child;
  REQUIRE(child > 0);
  // The background sleep went with its group (a zombie of init at most, never running on).
  std::this_thread::sleep_for(100ms);
  std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
  std::string s;
  std::getline(stat, s);
  CHECK((s.empty() || s.find(") Z") != std::string::npos));
}
