#pragma once
// The office's reports over every site (`kwh hub report sales|balances|energy`), computed by
// PostgreSQL on the hub's typed tables: the site's report of the same name (kwh-report(1),
// lib/kwh/report/) with the same columns and money rules, and a leading `site` column.
//
// What the hub cannot know as the site does: an account's balance is the one after its newest
// ledger entry at the hub (consumption not yet posted as a day's charge is in it as of that
// entry), and its meters are those of its newest day of usage; energy has no --by building.

#include <kwh/hub/pg.hpp>
#include <kwh/output/table.hpp>
#include <kwh/report/report.hpp>

#include <optional>
#include <string>

namespace kwh::hub {

struct ReportRequest {
  report::Request request;         // name (sales, balances, energy), by, period, minor_units
  std::optional<std::string> site; // nullopt: every site
};

// Checks what the hub can do (Exit::usage otherwise) and builds the table.
output::Table hub_report(PgConnection& conn, const ReportRequest& r);

} // namespace kwh::hub
