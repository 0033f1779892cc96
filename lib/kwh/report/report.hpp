#pragma once
// The office's reports (`kwh report NAME`): each reads the database only and returns one
// output::Table whose column names are the stable CSV/JSON names documented in kwh-report(1).
// Reports read the daily rollups (daily_usage), the ledger through its (kind, time) index and
// the current state of accounts, meters, gateways and events; only the raw readings export
// reads raw readings.

#include <kwh/output/table.hpp>
#include <kwh/report/period.hpp>
#include <kwh/storage/database.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kwh::report {

enum class Name { sales, energy, balances, alarms, offline, gateways, readings, reconcile, statement, debts, emergency };
enum class By { day, month, year, operator_, account, meter, building };

std::optional<Name> parse_name(std::string_view s);
std::optional<By> parse_by(std::string_view s);
std::string_view name_text(Name n);
std::string_view by_text(By b);
const std::vector<std::string>& name_words();

struct Options {
  Name name = Name::sales;
  // Site-local dates as typed; resolved into a Period by prepare().
  std::optional<std::string> from, to;
  std::optional<By> by;
  std::optional<std::string> account; // account ID (accounts.name)
  std::optional<std::string> meter;   // readings --raw: one meter
  bool active = false;                // alarms: active ones only
  bool raw = false;                   // readings: every raw reading in the period
  int minor_units = 2;
  UnixTime now = 0; // 0: the clock
};

// Checks the combination of options (a --by, --from/--to, --account, --active or --raw that
// the report does not take is a usage error naming it) and resolves the period.
struct Request {
  Options options;
  Period period;
};
Request prepare(const Options& options);

// The report as a table (with a totals row where sums make sense; the table format shows it,
// CSV, JSON and xlsx leave it out).
output::Table build(storage::Database& db, const Request& request);

// The result of checking that independent totals agree (reconcile, statement): empty when
// they do, else one line naming the difference.
struct Built {
  output::Table table;
  std::string discrepancy;
};
Built build_checked(storage::Database& db, const Request& request);

// The raw readings export, row by row, so that a year of readings streams instead of being
// held in memory.
std::vector<output::Column> raw_reading_columns();
void for_each_raw_reading(storage::Database& db, const Request& request,
                          const std::function<void(std::vector<output::Json>&&)>& row);

// Per-report builders (used by build()).
output::Table sales(storage::Database& db, const Request& r);
Built reconcile(storage::Database& db, const Request& r);
output::Table energy(storage::Database& db, const Request& r);
output::Table balances(storage::Database& db, const Request& r);
output::Table debts(storage::Database& db, const Request& r);
output::Table emergency(storage::Database& db, const Request& r);
output::Table alarms(storage::Database& db, const Request& r);
output::Table offline(storage::Database& db, const Request& r);
output::Table gateways(storage::Database& db, const Request& r);
output::Table latest_readings(storage::Database& db, const Request& r);
Built statement(storage::Database& db, const Request& r);

// A sales row's sums, and its cells (sales, refunds, net, count): the site's sales and reconcile
// reports and the hub's sales report (lib/kwh/hub/report.cpp) keep the same money rules.
struct Takings {
  std::int64_t sales = 0;
  std::int64_t refunds = 0; // a positive amount: what was paid back
  std::int64_t count = 0;

  // A ledger row of kind sale or refund.
  void add(const std::string& kind, std::int64_t amount) {
    if (kind == "sale") sales += amount;
    else refunds -= amount;
    ++count;
  }
  void add(const Takings& o) { sales += o.sales, refunds += o.refunds, count += o.count; }
  std::int64_t net() const { return sales - refunds; }
  bool operator==(const Takings&) const = default;
};
std::vector<output::Json> takings_cells(const Takings& t, int minor_units);

// An energy row's sums, and its cells after `key` (energy_kwh and volume_m3, each empty for a
// group without a meter of that kind, and cost): the site's and the hub's energy reports.
struct Usage {
  std::int64_t wh = 0, litres = 0, cost = 0;
  bool electricity = false, water = false;

  void add(const Usage& u) {
    wh += u.wh, litres += u.litres, cost += u.cost;
    electricity |= u.electricity, water |= u.water;
  }
};
std::vector<output::Json> usage_cells(output::Json key, const Usage& u, int minor_units);

// Helpers shared by the builders.
std::string money_text(std::int64_t minor, int minor_units);
// Exact thousandths of an integer: 12345 Wh -> "12.345" (kWh), 12345 L -> "12.345" (m³).
std::string thousandths(std::int64_t v);
// The id of an account by its ID; Error(no_input) naming it when there is none.
std::int64_t account_id(storage::Database& db, const std::string& name);

} // namespace kwh::report
