#include <doctest/doctest.h>

#include <kwh/import/csv.hpp>

using namespace kwh::import;

namespace {

std::vector<std::vector<std::string>> fields(const Csv& csv) {
  std::vector<std::vector<std::string>> out;
  for (const auto& r : csv.records) out.push_back(r.fields);
  return out;
}

} // namespace

TEST_CASE("Import CSV: plain records, LF or CRLF, last line with or without a line break") {
  for (const char* text : {"a,b,c\n1,2,3\n", "a,b,c\r\n1,2,3\r\n", "a,b,c\n1,2,3"}) {
    auto csv = parse_csv(text);
    CHECK(csv.errors.empty());
    REQUIRE(csv.records.size() == 2);
    CHECK(csv.records[0].fields == std::vector<std::string>{"a", "b", "c"});
    CHECK(csv.records[1].fields == std::vector<std::string>{"1", "2", "3"});
    CHECK(csv.records[0].line == 1);
    CHECK(csv.records[1].line == 2);
  }
}

TEST_CASE("Import CSV: RFC 4180 quoting: commas, doubled quotes and line breaks inside quotes") {
  auto csv = parse_csv("id,room,note\n"
                       "M1,\"102, corner\",\"say \"\"hi\"\"\"\n"
                       "M2,\"two\nlines\",\"\"\n"
                       "M3,x,y\n");
  CHECK(csv.errors.empty());
  REQUIRE(csv.records.size() == 4);
  CHECK(csv.records[1].fields == std::vector<std::string>{"M1", "102, corner", "say \"hi\""});
  CHECK(csv.records[2].fields == std::vector<std::string>{"M2", "two\nlines", ""});
  // A record that spans two lines starts on its first; the next starts after it.
  CHECK(csv.records[2].line == 3);
  CHECK(csv.records[3].line == 5);
}

TEST_CASE("Import CSV: CRLF inside quotes is kept; blanks around unquoted fields are not") {
  auto csv = parse_csv("a,b\r\n \"x\r\ny\" ,  2 \r\n");
  CHECK(csv.errors.empty());
  REQUIRE(csv.records.size() == 2);
  CHECK(csv.records[1].fields == std::vector<std::string>{"x\r\ny", "2"});
  // Inside quotes blanks are text.
  CHECK(parse_csv("\" a \"\n").records[0].fields == std::vector<std::string>{" a "});
}

TEST_CASE("Import CSV: a byte order mark, empty fields, blank lines and rows of commas") {
  auto csv = parse_csv("\xEF\xBB\xBFid,name\n\nM1,\n,\n,,\n");
  CHECK(csv.errors.empty());
  REQUIRE(csv.records.size() == 5);
  CHECK(csv.records[0].fields[0] == "id"); // the mark is not part of the first name
  CHECK(csv.records[1].blank());
  CHECK(csv.records[2].fields == std::vector<std::string>{"M1", ""});
  CHECK(!csv.records[2].blank());
  CHECK(csv.records[3].blank());
  CHECK(csv.records[4].blank());
  CHECK(csv.records[4].fields.size() == 3);
  CHECK(parse_csv("").records.empty());
}

TEST_CASE("Import CSV: bad records are errors with their line, and the rest is read") {
  auto csv = parse_csv("id,room\n"
                       "M1,ro\"om\n"             // a quote in an unquoted field
                       "M2,\"room\"x\n"          // text after the closing quote
                       "M3,ok\n"
                       "M4,\"\xff\xfe\"\n"       // not UTF-8
                       "M5,\"caf\xc3\xa9\"\n");  // UTF-8
  REQUIRE(csv.errors.size() == 3);
  CHECK(csv.errors[0].line == 2);
  CHECK(csv.errors[0].reason.find("double quote") != std::string::npos);
  CHECK(csv.errors[1].line == 3);
  CHECK(csv.errors[1].reason.find("closing") != std::string::npos);
  CHECK(csv.errors[2].line == 5);
  CHECK(csv.errors[2].reason.find("UTF-8") != std::string::npos);
  CHECK(fields(csv) == std::vector<std::vector<std::string>>{{"id", "room"}, {"M3", "ok"}, {"M5", "caf\xc3\xa9"}});
}

TEST_CASE("Import CSV: a quote never closed is one error on the line it opened, and ends the file") {
  auto csv = parse_csv("id,room\nM1,a\nM2,\"open\nM3,b\nM4,c\n");
  REQUIRE(csv.errors.size() == 1);
  CHECK(csv.errors[0].line == 3);
  CHECK(csv.errors[0].reason.find("never closed") != std::string::npos);
  CHECK(csv.records.size() == 2);
}

TEST_CASE("Import CSV: overlong and surrogate UTF-8 forms are refused") {
  CHECK(parse_csv("\xc0\xaf\n").errors.size() == 1);         // overlong '/'
  CHECK(parse_csv("\xed\xa0\x80\n").errors.size() == 1);     // a surrogate
  CHECK(parse_csv("\xf4\x90\x80\x80\n").errors.size() == 1); // past U+10FFFF
  CHECK(parse_csv("\xe2\x82\n").errors.size() == 1);         // cut short
  CHECK(parse_csv("\xe2\x82\xac,\xf0\x9f\x94\x8c\n").errors.empty());
}
