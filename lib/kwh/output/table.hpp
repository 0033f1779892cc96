#pragma once
// Tabular output, the one shape every listing and report takes: a table for people (aligned,
// with a totals row and coloured status on a terminal), CSV and JSON for scripts (stable column
// names, no colour, no totals), or ids only (-q) for pipes. Reports add xlsx (xlsx.hpp).

#include <kwh/output/json.hpp>

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace kwh::output {

enum class Format { table, json, csv, xlsx };
// "table", "json", "csv", "xlsx"; nullopt for anything else.
std::optional<Format> parse_format(std::string_view s);

// What a column holds; decides alignment, colour and the xlsx cell type. Values are Json:
// money is a decimal string ("200.50"), times RFC 3339 strings, integers and reals numbers.
enum class Kind { text, integer, real, money, time, date, status };

struct Column {
  std::string name;  // CSV/JSON name: stable, documented in the man pages
  Kind kind = Kind::text;
  std::string title; // table header; empty: name
};

struct Table {
  std::vector<Column> columns;
  std::vector<std::vector<Json>> rows;
  std::vector<Json> totals; // empty: none; shown only in the table format

  Table& add(std::vector<Json> row);
};

struct RenderOptions {
  bool color = false; // decide with use_color()
  bool quiet = false; // first column only, no header
};

// Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org).
bool use_color(int fd);

void render(const Table& t, Format f, std::ostream& out, const RenderOptions& opts = {});
// One object (a `show`): JSON as is; table as "key: value" lines.
void render_object(const Json& obj, Format f, std::ostream& out, const RenderOptions& opts = {});

std::string csv_escape(std::string_view s);
// ANSI colour for a status word (ok, alarm1, alarm2, arrears, offline, ...), "" for none.
std::string status_color(std::string_view status);

} // namespace kwh::output
