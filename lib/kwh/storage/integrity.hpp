#pragma once
// SQLite's own checks of the file: page integrity and foreign keys. `kwh check` adds the
// ledger and audit checks of their own areas to these findings.

#include <kwh/storage/database.hpp>

#include <string>
#include <vector>

namespace kwh::storage {

// One line per problem; empty when the file is sound.
std::vector<std::string> integrity_findings(Database& db);

} // namespace kwh::storage
