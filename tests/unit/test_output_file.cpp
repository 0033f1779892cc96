#include "temp_dir.hpp"

#include <kwh/output/file.hpp>
#include <kwh/util/error.hpp>

#include <doctest/doctest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

using namespace kwh;
using namespace kwh::output;
namespace fs = std::filesystem;

namespace {

std::string read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void put(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::size_t files_in(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), {}));
}

mode_t mode_of(const std::string& path) {
  struct stat st{};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode;
}

// The exit code of the Error that writing `path` throws; Exit::ok when it does not throw.
Exit refusal(const std::string& path, std::string* message = nullptr) {
  try {
    write_file(path, [](std::ostream& out) { out << "report\n"; });
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  return Exit::ok;
}

} // namespace

TEST_CASE("OutputFile: a new file is written whole with the umask's mode, nothing beside it") {
  test::TempDir dir;
  const std::string path = dir.file("sales.csv");
  mode_t mask = ::umask(022);
  write_file(path, [](std::ostream& out) { out << "a,b\n1,2\n"; });
  ::umask(mask);
  CHECK(read(path) == "a,b\n1,2\n");
  CHECK((mode_of(path) & 07777) == 0644);
  CHECK(files_in(dir.path()) == 1);
}

TEST_CASE("OutputFile: a regular file is replaced whole and keeps its mode") {
  test::TempDir dir;
  const std::string path = dir.file("sales.csv");
  put(path, "old contents that are longer than the new ones\n");
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  write_file(path, [](std::ostream& out) { out << "new\n"; });
  CHECK(read(path) == "new\n");
  CHECK(S_ISREG(mode_of(path)));
  CHECK((mode_of(path) & 07777) == 0600);
  CHECK(files_in(dir.path()) == 1);
}

TEST_CASE("OutputFile: a write that fails leaves the file as it was and nothing beside it") {
  test::TempDir dir;
  const std::string path = dir.file("sales.csv");
  put(path, "old\n");
  CHECK_THROWS_AS(write_file(path,
                             [](std::ostream& out) {
                               out << "half";
                               throw Error(Exit::data, "the report failed");
                             }),
                  Error);
  CHECK(read(path) == "old\n");
  CHECK(files_in(dir.path()) == 1);
  {
    OutputFile f(dir.file("new.csv"));
    f.write("never committed");
  }
  CHECK(!fs::exists(dir.file("new.csv")));
  CHECK(files_in(dir.path()) == 1);
}

TEST_CASE("OutputFile: a symbolic link is refused (65) and its target is untouched") {
  test::TempDir dir;
  const std::string target = dir.file("target.txt");
  put(target, "precious\n");
  REQUIRE(::chmod(target.c_str(), 0640) == 0);
  const std::string link = dir.file("link.csv");
  fs::create_symlink(target, link);
  std::string message;
  CHECK(refusal(link, &message) == Exit::data);
  CHECK(message.find(link) != std::string::npos);
  CHECK(message.find("symbolic link") != std::string::npos);
  CHECK(message.find('\n') == std::string::npos);
  CHECK(read(target) == "precious\n");
  CHECK((mode_of(target) & 07777) == 0640);
  CHECK(S_ISLNK(mode_of(link)));
  CHECK(files_in(dir.path()) == 2);

  SUBCASE("a dangling link too: nothing is created where it points") {
    const std::string dangling = dir.file("dangling.csv");
    fs::create_symlink(dir.file("nowhere.csv"), dangling);
    CHECK(refusal(dangling) == Exit::data);
    CHECK(!fs::exists(dir.file("nowhere.csv")));
  }
}

TEST_CASE("OutputFile: a folder is refused (65); a missing folder fails (1) and creates nothing") {
  test::TempDir dir;
  fs::create_directory(dir.file("folder"));
  std::string message;
  CHECK(refusal(dir.file("folder"), &message) == Exit::data);
  CHECK(message.find("it is a folder") != std::string::npos);
  CHECK(fs::is_empty(dir.file("folder")));

  CHECK(refusal(dir.file("missing/sales.csv"), &message) == Exit::failed);
  CHECK(message.find(dir.file("missing/sales.csv")) != std::string::npos);
  CHECK(files_in(dir.path()) == 1);
}

TEST_CASE("OutputFile: a FIFO is written in place and stays a FIFO") {
  test::TempDir dir;
  const std::string fifo = dir.file("printer");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::string got;
  std::thread reader([&] { got = read(fifo); });
  write_file(fifo, [](std::ostream& out) { out << "through the pipe\n"; });
  reader.join();
  CHECK(got == "through the pipe\n");
  CHECK(S_ISFIFO(mode_of(fifo)));
  CHECK(files_in(dir.path()) == 1);
}

TEST_CASE("OutputFile: a character device is written in place, never replaced") {
  if (::geteuid() != 0) {
    MESSAGE("SKIPPED: making a device node needs root; the FIFO case covers writing in place");
    return;
  }
  test::TempDir dir;
  // The null device's numbers (1, 3), as a node of our own inside the test's folder.
  const std::string node = dir.file("null");
  if (::mknod(node.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {
    MESSAGE("SKIPPED: mknod failed (" << std::strerror(errno) << "), e.g. in a container without CAP_MKNOD");
    return;
  }
  struct stat before{};
  REQUIRE(::lstat(node.c_str(), &before) == 0);
  int fd = ::open(node.c_str(), O_WRONLY);
  if (fd < 0) {
    MESSAGE("SKIPPED: the device node cannot be opened (" << std::strerror(errno) << "), e.g. a nodev mount");
    return;
  }
  ::close(fd);
  write_file(node, [](std::ostream& out) { out << "into the device\n"; });
  struct stat after{};
  REQUIRE(::lstat(node.c_str(), &after) == 0);
  CHECK(S_ISCHR(after.st_mode));
  CHECK(after.st_ino == before.st_ino);
  CHECK(after.st_rdev == before.st_rdev);
  CHECK(files_in(dir.path()) == 1);
}
