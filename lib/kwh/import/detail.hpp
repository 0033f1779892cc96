#pragma once
// What the three imports share (not installed, not for callers of import.hpp): the columns of
// each kind, the header mapped onto them, a row's cells, and the job a kind's importer reports
// its rows to.

#include <kwh/import/csv.hpp>
#include <kwh/import/import.hpp>
#include <kwh/util/error.hpp>
#include <kwh/util/money.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kwh::storage {
class Database;
}

namespace kwh::import::detail {

struct ColumnSpec {
  std::string_view name;
  std::string_view alias; // the list output's name for it, where that differs
  bool read_only = false; // a display column of the list output: accepted and ignored
};

// The columns of each kind, in the order of the enums in gateways.cpp, meters.cpp and
// accounts.cpp; the first is the object's ID.
const std::vector<ColumnSpec>& gateway_columns();
const std::vector<ColumnSpec>& meter_columns();
const std::vector<ColumnSpec>& account_columns();
const std::vector<ColumnSpec>& specs(Kind kind);

// A header mapped onto a kind's columns: field[c] is the field of column c, or -1 when the file
// has no such column.
struct Header {
  std::vector<int> field;
  std::size_t width = 0;
};

// Maps the header record; its problems go to `errors` (line 1). Names are compared in lower
// case, with '-' and ' ' read as '_' (relay-mode, "Relay Mode" and relay_mode are one column).
Header map_header(Kind kind, const CsvRecord& header, std::vector<RowError>& errors);

class Row {
public:
  Row(const CsvRecord& record, const Header& header) : m_record(record), m_header(header) {}
  int line() const { return m_record.line; }
  // Whether the file has the column.
  bool has(int column) const { return m_header.field[static_cast<std::size_t>(column)] >= 0; }
  // The cell: nullopt when the file has no such column, "" when it is empty.
  std::optional<std::string_view> cell(int column) const;
  // The cell when it has text; nullopt when absent or empty.
  std::optional<std::string> text(int column) const;

private:
  const CsvRecord& m_record;
  const Header& m_header;
};

// Parsers for cells, throwing Error(data) that names the column and the text.
std::int64_t whole_number(std::string_view text, std::string_view column);
Money money(std::string_view text, std::string_view column, int minor_units, bool allow_negative);

// "(none)" for nothing, else the value: for what-changed details.
std::string shown(const std::optional<std::string>& v);
std::string shown(const std::optional<std::int64_t>& v);

// A kind's importer reports each row here.
struct Job {
  storage::Database& db;
  const config::Config& config;
  const Options& options;
  Result& result;
  UnixTime now = 0;

  void bad(int line, std::string reason);
  void done(int line, std::string id, Action action, std::string detail);
  // A row whose differences from what is stored are `changes`: skipped when there are none, an
  // error without --update, else `apply()` and an update.
  void changed(int line, const std::string& what, const std::string& id, const std::vector<std::string>& changes,
               const std::function<void()>& apply);
  // Runs one row in a savepoint: an Error it throws becomes the row's reason and what it wrote
  // is undone, so that the rows after it are checked against the rows that were good. A busy or
  // failing database (exit 75 or 1) stops the whole import.
  void row(int line, const std::function<void()>& f);
};

// The data rows of a file (the header is records[0]): blank rows are passed over, and a row
// with more or fewer fields than the header is a bad row. Each row's ID (column 0, required)
// must be new to the file; `f` gets the rest.
void for_each_row(Job& job, Kind kind, const Header& header, const std::vector<CsvRecord>& records,
                  const std::function<void(const Row&, const std::string& id)>& f);

void import_gateways(Job& job, const Header& header, const std::vector<CsvRecord>& records);
void import_meters(Job& job, const Header& header, const std::vector<CsvRecord>& records);
void import_accounts(Job& job, const Header& header, const std::vector<CsvRecord>& records);

} // namespace kwh::import::detail
