#include <kwh/storage/integrity.hpp>

#include <fmt/format.h>

namespace kwh::storage {

std::vector<std::string> integrity_findings(Database& db) {
  std::vector<std::string> findings;
  auto ic = db.prepare("PRAGMA integrity_check");
  while (ic.step()) {
    auto line = ic.get_text(0);
    if (line != "ok") findings.push_back("sqlite: " + line);
  }
  auto fk = db.prepare("PRAGMA foreign_key_check");
  while (fk.step())
    findings.push_back(fmt::format("foreign key: {} row {} refers to a missing {} row", fk.get_text(0),
                                   fk.get_int(1), fk.get_text(2)));
  return findings;
}

} // namespace kwh::storage
