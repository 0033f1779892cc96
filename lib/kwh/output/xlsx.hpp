#pragma once
// Excel output for reports: one worksheet named after the report, with typed cells (numbers
// as numbers, money with its decimals, dates and times as Excel dates, text as text), a bold
// header row frozen in place and column widths that fit the contents. The totals row is left
// out, as in CSV: the sheet holds exactly the CSV's rows, and Excel sums columns itself.

#include <kwh/output/table.hpp>

#include <string>

namespace kwh::output {

struct XlsxOptions {
  std::string sheet = "report"; // cut to Excel's 31 characters, []:*?/\ replaced
  int minor_units = 2;          // decimals shown for money cells
};

// Writes the table to `path` under the rule of output/file.hpp (a file is replaced whole, a
// link or a folder refused, a device or FIFO written in place), only once the workbook is
// complete: a failure leaves nothing half-written behind. Times
// (RFC 3339 text with an offset) become the site-local wall-clock time; Excel has no zones.
// Throws Error naming the path when it cannot be written.
void write_xlsx(const Table& table, const std::string& path, const XlsxOptions& options = {});

} // namespace kwh::output
