#pragma once
// Writing a report out: the raw readings streamed as CSV or JSON. Files are written by
// output::write_file (kwh/output/file.hpp).

#include <kwh/report/report.hpp>

#include <ostream>
#include <string>

namespace kwh::report {

// report readings --raw as CSV or JSON (an array of row objects, one a line), row by row.
void stream_raw_readings(storage::Database& db, const Request& request, output::Format format, std::ostream& out);

} // namespace kwh::report
