// kwh report: reports: sales, energy, balances, alarms, offline, gateways, readings, reconcile,
// statement. Options and wiring only; the reports are in lib/kwh/report.

#include "context.hpp"

#include <kwh/output/file.hpp>
#include <kwh/output/xlsx.hpp>
#include <kwh/report/export.hpp>
#include <kwh/report/report.hpp>

namespace kwh::cli {

namespace {

struct ReportArgs {
  std::string name;
  std::optional<std::string> from, to, by, account, meter, output;
  bool active = false, raw = false;
};

int run_report(Context& ctx, const ReportArgs& a) {
  report::Options o;
  ctx.config(); // the site zone, before any date is read
  o.name = *report::parse_name(a.name);
  o.from = a.from, o.to = a.to, o.account = a.account, o.meter = a.meter;
  o.active = a.active, o.raw = a.raw;
  if (a.by) {
    o.by = report::parse_by(*a.by);
    if (!o.by) fail(Exit::usage, "--by must be day, month, year, operator, account, meter or building, not '{}'", *a.by);
  }
  o.minor_units = ctx.minor_units();
  const report::Request r = report::prepare(o);
  const output::Format format = ctx.format();
  if (format == output::Format::xlsx && !a.output) fail(Exit::usage, "--format xlsx needs --output FILE.xlsx");
  auto& db = ctx.db();

  const bool stream = o.raw && (format == output::Format::csv || format == output::Format::json) && !ctx.quiet;
  if (stream) {
    if (a.output) output::write_file(*a.output, [&](std::ostream& f) { report::stream_raw_readings(db, r, format, f); });
    else report::stream_raw_readings(db, r, format, ctx.out());
    return 0;
  }

  report::Built built = report::build_checked(db, r);
  if (format == output::Format::xlsx) {
    output::write_xlsx(built.table, *a.output, {std::string(report::name_text(o.name)), o.minor_units});
  } else if (a.output) {
    output::RenderOptions plain{false, ctx.quiet};
    output::write_file(*a.output, [&](std::ostream& f) { output::render(built.table, format, f, plain); });
  } else {
    ctx.print(built.table);
  }
  if (!built.discrepancy.empty()) {
    std::cerr << "kwh: " << built.discrepancy << '\n';
    return 1;
  }
  return 0;
}

} // namespace

void add_report(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand("report", "reports: sales, energy, balances, alarms, offline, gateways, readings, "
                                           "reconcile, statement, debts, emergency");
  auto a = std::make_shared<ReportArgs>();
  sub->add_option("report", a->name, "sales|energy|balances|alarms|offline|gateways|readings|reconcile|statement|debts|emergency")
      ->required()
      ->type_name("REPORT")
      ->check(CLI::IsMember(report::name_words()));
  sub->add_option("--from", a->from, "first site-local date (default: start of this month; reconcile: today)")
      ->type_name("DATE");
  sub->add_option("--to", a->to, "last site-local date, whole day included (default: today)")->type_name("DATE");
  sub->add_option("--by", a->by, "group by day|month|year|operator|account|meter|building")->type_name("KEY");
  sub->add_option("--account", a->account, "one account (statement: required)")->type_name("A");
  sub->add_option("--meter", a->meter, "readings --raw: one meter")->type_name("M");
  sub->add_option("--output", a->output, "write to FILE (required for xlsx)")->type_name("FILE");
  sub->add_flag("--active", a->active, "alarms: active ones only");
  sub->add_flag("--raw", a->raw, "readings: every raw reading of the period (streams as csv or json)");
  sub->callback([&ctx, a] { ctx.action = [&ctx, a] { return run_report(ctx, *a); }; });
}

} // namespace kwh::cli
