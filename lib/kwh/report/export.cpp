#include <kwh/report/export.hpp>

namespace kwh::report {

void stream_raw_readings(storage::Database& db, const Request& r, output::Format format, std::ostream& out) {
  const auto columns = raw_reading_columns();
  if (format == output::Format::csv) {
    for (std::size_t i = 0; i < columns.size(); ++i) out << (i ? "," : "") << columns[i].name;
    out << '\n';
    for_each_raw_reading(db, r, [&](std::vector<output::Json>&& row) {
      for (std::size_t i = 0; i < row.size(); ++i) out << (i ? "," : "") << output::csv_escape(row[i].text());
      out << '\n';
    });
    return;
  }
  if (format != output::Format::json) fail(Exit::usage, "the raw readings stream as csv or json");
  bool first = true;
  out << '[';
  for_each_raw_reading(db, r, [&](std::vector<output::Json>&& row) {
    output::Json o = output::Json::object();
    for (std::size_t i = 0; i < row.size(); ++i) o.set(columns[i].name, std::move(row[i]));
    out << (first ? "\n  " : ",\n  ") << o.dump(-1);
    first = false;
  });
  out << (first ? "]\n" : "\n]\n");
}

} // namespace kwh::report
