// kwh report: reports: sales, energy, balances, alarms, offline, gateways, readings, reconcile, statement.

#include "context.hpp"

namespace kwh::cli {

void add_report(CLI::App& app, Context& ctx) { add_unbuilt(app, ctx, "report", "reports: sales, energy, balances, alarms, offline, gateways, readings, reconcile, statement"); }

} // namespace kwh::cli
