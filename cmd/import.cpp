// kwh gateway import, kwh meter import, kwh account import: options, output and the audit entry;
// the rules are in lib/kwh/import.

#include "import.hpp"

#include <kwh/billing/payment.hpp>
#include <kwh/billing/receipt.hpp>
#include <kwh/output/file.hpp>
#include <kwh/util/time.hpp>

#include <fmt/format.h>

#include <iostream>

namespace kwh::cli {

namespace {

struct ImportOptions {
  std::string file;
  bool dry_run = false;
  bool update = false;
  std::optional<std::string> receipts;
};

// The operator authorize() found; the login name when run without it (tests).
std::string operator_of(const Context& ctx) {
  return ctx.operator_name.empty() ? billing::operator_name() : ctx.operator_name;
}

const char* singular(import::Kind kind) {
  switch (kind) {
  case import::Kind::gateways: return "gateway";
  case import::Kind::meters: return "meter";
  case import::Kind::accounts: return "account";
  }
  return "meter";
}

std::string counts(const import::Result& r) {
  return fmt::format("{} added, {} updated, {} skipped", r.added, r.updated, r.skipped);
}

output::Json result_json(Context& ctx, const import::Result& r, bool dry_run) {
  auto o = output::Json::object();
  o.set("file", r.file);
  o.set("sha256", r.sha256);
  o.set("kind", import::kind_name(r.kind));
  o.set("dry_run", dry_run);
  o.set("written", r.written);
  o.set("added", r.added);
  o.set("updated", r.updated);
  o.set("skipped", r.skipped);
  auto rows = output::Json::array();
  for (const auto& row : r.rows)
    rows.push(output::Json::object()
                  .set("line", row.line)
                  .set("id", row.id)
                  .set("action", import::action_name(row.action))
                  .set("detail", row.detail));
  o.set("rows", std::move(rows));
  auto errors = output::Json::array();
  for (const auto& e : r.errors) errors.push(output::Json::object().set("line", e.line).set("reason", e.reason));
  o.set("errors", std::move(errors));
  if (r.kind == import::Kind::accounts) {
    auto openings = output::Json::array();
    for (const auto& p : r.openings)
      openings.push(output::Json::object()
                        .set("account", p.account)
                        .set("amount", p.amount.format(ctx.minor_units()))
                        .set("balance", p.balance.format(ctx.minor_units()))
                        .set("receipt", p.receipt ? output::Json(p.receipt) : output::Json()));
    o.set("openings", std::move(openings));
  }
  return o;
}

int run_import(Context& ctx, import::Kind kind, const ImportOptions& o) {
  // Everything that can stop the import stops it before anything is written: the file, and
  // where its receipts go.
  const import::Sheet sheet = import::read_sheet(o.file);
  std::optional<output::OutputFile> receipts;
  if (o.receipts && *o.receipts != "-" && !o.dry_run) receipts.emplace(*o.receipts, "the receipts ");
  import::Options options;
  options.dry_run = o.dry_run;
  options.update = o.update;
  options.receipts = o.receipts.has_value();
  options.operator_name = operator_of(ctx);
  options.now = now();
  auto& db = ctx.db();
  const import::Result r = import::run(db, ctx.config(), kind, sheet, options, [&](const import::Result& done) {
    // One audit entry for the file: its name, its SHA-256 and what it did.
    ctx.audit_now(fmt::format("file {} sha256 {}: {}", done.file, done.sha256, counts(done)));
  });
  if (!r.written) ctx.audit_written = true; // nothing was written, so nothing to record

  if (!r.ok()) {
    for (const auto& e : r.errors) std::cerr << one_line(fmt::format("{}:{}: {}", r.file, e.line, e.reason)) << '\n';
    if (ctx.format() == output::Format::json) ctx.print(result_json(ctx, r, o.dry_run));
    fail(Exit::data, "{}: rejected, nothing {}: {} bad row{}", r.file, o.dry_run ? "would be imported" : "imported",
         r.errors.size(), r.errors.size() == 1 ? "" : "s");
  }

  std::string receipt_text;
  for (const auto& p : r.openings)
    if (p.receipt) receipt_text += billing::format_receipt(p, ctx.config().currency, ctx.minor_units());
  if (o.receipts && *o.receipts == "-" && r.written) {
    std::cout << receipt_text;
    return 0;
  }

  if (ctx.format() == output::Format::json) {
    ctx.print(result_json(ctx, r, o.dry_run));
  } else if (ctx.quiet) {
    for (const auto& row : r.rows)
      if (row.action != import::Action::skip) ctx.out() << row.id << '\n';
  } else if (o.dry_run || ctx.format() == output::Format::csv) {
    // Each row and what became of it: what --dry-run is for, and what a script asking for CSV
    // gets.
    output::Table t;
    t.columns = {{"line", output::Kind::integer}, {singular(kind)}, {"action"}, {"detail"}};
    for (const auto& row : r.rows) t.add({row.line, row.id, import::action_name(row.action), row.detail});
    ctx.print(t);
    if (ctx.format() == output::Format::table)
      ctx.out() << fmt::format("dry run of {}: would be {}; nothing written\n", r.file, counts(r));
  } else {
    ctx.out() << fmt::format("imported {}: {}\n", r.file, counts(r));
  }
  if (receipts) {
    try {
      receipts->write(receipt_text);
      receipts->commit();
    } catch (const Error& e) {
      fail(Exit::failed, "{} imported, but {}", r.file, e.what());
    }
  }
  return 0;
}

} // namespace

void add_import(CLI::App* group, Context& ctx, import::Kind kind) {
  auto o = std::make_shared<ImportOptions>();
  const std::string what = import::kind_name(kind);
  auto* sub = group->add_subcommand(
      "import", fmt::format("add {} from a CSV sheet, a row each; a file with a bad row is rejected whole (exit 65)", what));
  sub->add_option("file", o->file, "the CSV file (a header line naming the columns), or - for standard input")
      ->required()
      ->type_name("FILE.csv");
  sub->add_flag("--dry-run", o->dry_run, "check every row and print what would be added, updated and skipped; write nothing");
  sub->add_flag("--update", o->update, fmt::format("rows that differ from the stored {} change them (else they are errors)", what));
  if (kind == import::Kind::accounts)
    sub->add_option("--receipts", o->receipts,
                    "give each opening balance a receipt number and write the receipts to FILE, or - for standard output")
        ->type_name("FILE|-");
  std::string columns, ignored;
  for (const auto& c : import::columns(kind)) columns += (columns.empty() ? "" : ",") + c;
  for (const auto& c : import::read_only_columns(kind)) ignored += (ignored.empty() ? "" : ",") + c;
  sub->footer(fmt::format("Columns: {}{}.\nIgnored, as {} list --format csv prints them: {}.\n"
                          "CSV only: save a spreadsheet as CSV (UTF-8). See kwh-{}(1).",
                          columns, kind == import::Kind::accounts ? " (meters separated by ;)" : "", singular(kind),
                          ignored, singular(kind)));
  sub->callback([&ctx, o, kind] { ctx.action = [&ctx, o, kind] { return run_import(ctx, kind, *o); }; });
}

} // namespace kwh::cli
