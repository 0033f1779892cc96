#pragma once
// CSV as RFC 4180 writes it, and as spreadsheets save it: records separated by CRLF or LF,
// fields by commas; a field in double quotes may hold commas, line breaks and doubled quotes
// (""). What spreadsheets add is taken too: a UTF-8 byte order mark before the header, a last
// record without a line break. Blanks around an unquoted field are dropped (a hand-written
// "M1, gw1" is "M1","gw1"); inside quotes they are kept. Each record remembers the line it
// starts on, for messages that name it.
//
// A record that breaks the rules (a quote inside an unquoted field, text after a closing quote,
// a quote never closed, bytes that are not UTF-8) is an error of its own, with its line and
// why; parsing goes on with the next line, so that one file shows every bad record at once.

#include <string>
#include <string_view>
#include <vector>

namespace kwh::import {

struct CsvRecord {
  int line = 0; // where it starts, 1-based
  std::vector<std::string> fields;

  // A line with no text at all, or only commas (the empty rows under a spreadsheet's table).
  bool blank() const;
};

struct CsvError {
  int line = 0;
  std::string reason;
};

struct Csv {
  std::vector<CsvRecord> records;
  std::vector<CsvError> errors;
};

Csv parse_csv(std::string_view text);

} // namespace kwh::import
