#include <doctest/doctest.h>

#include <kwh/output/table.hpp>

#include <sstream>

using namespace kwh::output;

namespace {
Table sample() {
  Table t;
  t.columns = {{"account", Kind::text}, {"status", Kind::status}, {"balance", Kind::money}};
  t.add({"A1", "ok", "200.50"});
  t.add({"B,2", "arrears", "-3.10"});
  t.totals = {"total", "", "197.40"};
  return t;
}
std::string rendered(const Table& t, Format f, RenderOptions o = {}) {
  std::ostringstream s;
  render(t, f, s, o);
  return s.str();
}
} // namespace

TEST_CASE("Output: a table aligns columns, right-aligns money and ends with totals") {
  auto s = rendered(sample(), Format::table);
  CHECK(s == "ACCOUNT  STATUS   BALANCE\n"
             "A1       ok        200.50\n"
             "B,2      arrears    -3.10\n"
             "-------  -------  -------\n"
             "total              197.40\n");
}

TEST_CASE("Output: CSV has stable names, quoting and no totals") {
  CHECK(rendered(sample(), Format::csv) == "account,status,balance\nA1,ok,200.50\n\"B,2\",arrears,-3.10\n");
}

TEST_CASE("Output: JSON is an array of row objects, money as strings") {
  auto s = rendered(sample(), Format::json);
  CHECK(s.find("\"balance\": \"200.50\"") != std::string::npos);
  CHECK(s.find("total") == std::string::npos);
  CHECK(s.front() == '[');
}

TEST_CASE("Output: -q prints the first column only") {
  RenderOptions o;
  o.quiet = true;
  CHECK(rendered(sample(), Format::table, o) == "A1\nB,2\n");
}

TEST_CASE("Output: colour only when asked, on status columns") {
  RenderOptions o;
  o.color = true;
  auto s = rendered(sample(), Format::table, o);
  CHECK(s.find("\033[31marrears\033[0m") != std::string::npos);
  CHECK(rendered(sample(), Format::table).find('\033') == std::string::npos);
  CHECK(rendered(sample(), Format::csv, o).find('\033') == std::string::npos);
}

TEST_CASE("Output: JSON escapes control characters and quotes") {
  Json o = Json::object();
  o.set("name", "a\"b\n\x01");
  CHECK(o.dump(-1) == "{\"name\": \"a\\\"b\\n\\u0001\"}");
}
