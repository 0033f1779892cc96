#include "temp_dir.hpp"

#include <kwh/output/xlsx.hpp>
#include <kwh/util/error.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

using namespace kwh;
using namespace kwh::output;

namespace {
Table sample() {
  Table t;
  t.columns = {Column{"period", Kind::date}, Column{"sales", Kind::money}, Column{"count", Kind::integer},
               Column{"time", Kind::time}, Column{"energy_kwh", Kind::real}, Column{"status", Kind::status}};
  t.add({"2026-11-01", "200.50", 3, "2026-11-01T08:30:00+00:00", "12.345", "ok"});
  t.add({"2026-11-02", "0.00", 0, Json(), Json(), "arrears"});
  t.totals = {"total", "200.50", 3, "", "", ""};
  return t;
}

std::size_t files_in(const std::filesystem::path& dir) {
  return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(dir), {}));
}
} // namespace

TEST_CASE("Xlsx: a report is written as a zip workbook and nothing else is left in the folder") {
  test::TempDir dir;
  write_xlsx(sample(), dir.file("sales.xlsx"), {"sales", 2});
  std::ifstream f(dir.file("sales.xlsx"), std::ios::binary);
  char magic[2] = {};
  f.read(magic, 2);
  CHECK(magic[0] == 'P');
  CHECK(magic[1] == 'K');
  CHECK(files_in(dir.path()) == 1);
  // Again over the same file: replaced whole.
  write_xlsx(sample(), dir.file("sales.xlsx"), {"sales", 2});
  CHECK(files_in(dir.path()) == 1);
}

TEST_CASE("Xlsx: a path that cannot be written fails naming it and leaves nothing behind") {
  test::TempDir dir;
  std::string path = dir.file("missing/sales.xlsx");
  try {
    write_xlsx(sample(), path, {"sales", 2});
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::failed);
    CHECK(std::string(e.what()).find(path) != std::string::npos);
  }
  CHECK(files_in(dir.path()) == 0);
}
