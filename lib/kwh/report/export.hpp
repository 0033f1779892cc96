#pragma once
// Writing a report out: the raw readings streamed as CSV or JSON, and files written whole or
// not at all.

#include <kwh/report/report.hpp>

#include <functional>
#include <ostream>
#include <string>

namespace kwh::report {

// report readings --raw as CSV or JSON (an array of row objects, one a line), row by row.
void stream_raw_readings(storage::Database& db, const Request& request, output::Format format, std::ostream& out);

// Writes a file through a temporary file in the same folder, renamed into place only when
// `write` has returned and the data is flushed: a failure leaves nothing half-written.
// Throws Error(failed) naming the path.
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

} // namespace kwh::report
