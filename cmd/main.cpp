// kwh: the command-line tool. Wiring only: options are defined per command group in cmd/,
// the rules live in libkwh.

#include "context.hpp"

#include <kwh/audit/log.hpp>
#include <kwh/util/error.hpp>

#include <fmt/format.h>

#include <iostream>

namespace {

struct Group {
  std::string_view name;
  void (*add)(CLI::App&, kwh::cli::Context&);
};

constexpr Group k_groups[] = {
    {"init", kwh::cli::add_init},         {"gateway", kwh::cli::add_gateway}, {"meter", kwh::cli::add_meter},
    {"tariff", kwh::cli::add_tariff},     {"account", kwh::cli::add_account}, {"sell", kwh::cli::add_sell},
    {"refund", kwh::cli::add_refund},     {"relay", kwh::cli::add_relay},     {"reading", kwh::cli::add_reading},
    {"report", kwh::cli::add_report},     {"operator", kwh::cli::add_operator}, {"log", kwh::cli::add_log},
    {"check", kwh::cli::add_check},       {"sim", kwh::cli::add_sim},         {"serve", kwh::cli::add_serve},
    {"hub", kwh::cli::add_hub},
};

// The command group the command line names: its first word that is not a global option or the
// value of one. Null when there is none, when it is not a group, or when help comes first (the
// overview lists every group). Only that group's options are then built: building all of them
// costs more than a sale's own work.
const Group* named_group(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--db" || a == "--config" || a == "--format") {
      ++i;
      continue;
    }
    if (a == "-h" || a == "--help" || a == "--version") return nullptr;
    if (a.starts_with('-')) continue;
    for (const auto& g : k_groups)
      if (g.name == a) return &g;
    return nullptr;
  }
  return nullptr;
}

int run(int argc, char** argv) {
  using namespace kwh;
  cli::Context ctx;
  ctx.command_line = audit::command_line(argc, argv);

  CLI::App app{"kwh: prepaid energy management for sub-metered sites", "kwh"};
  app.set_version_flag("--version", std::string("kwh ") + KWH_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  app.footer("See kwh(1) and 'kwh COMMAND --help'. Exit codes: 0 done, 1 failed, 64 usage, 65 bad data,\n"
             "66 no such object, 69 unreachable, 75 try again, 77 not permitted, 78 bad configuration.");

  app.add_option("--db", ctx.db_option, "SQLite database (default: $KWH_DB, config, /var/lib/kwh/kwh.db)")
      ->type_name("PATH");
  app.add_option("--config", ctx.config_option, "configuration file (default: $KWH_CONFIG, /etc/kwh/kwh.toml)")
      ->type_name("PATH");
  app.add_option("--format", ctx.format_option, "output format: table, json, csv (reports also xlsx)")
      ->type_name("FORMAT");
  app.add_flag("--json", ctx.json, "same as --format json");
  app.add_flag("-q,--quiet", ctx.quiet, "ids only, one a line, for pipes");
  app.add_flag("--yes", ctx.yes, "no confirmation for batch actions");

  if (const Group* g = named_group(argc, argv)) {
    g->add(app, ctx);
  } else {
    for (const auto& group : k_groups) group.add(app, ctx);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ConversionError& e) {
    // CLI11 says "Could not convert: --unit = abc"; every such option of kwh takes a number.
    std::string msg = e.what();
    constexpr std::string_view prefix = "Could not convert: ";
    if (auto eq = msg.find(" = "); msg.rfind(prefix, 0) == 0 && eq != std::string::npos)
      msg = fmt::format("{}: '{}' is not a valid number", msg.substr(prefix.size(), eq - prefix.size()), msg.substr(eq + 3));
    std::cerr << "kwh: " << msg << " (see kwh --help)\n";
    return static_cast<int>(Exit::usage);
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    if (msg.empty()) msg = "bad usage";
    std::cerr << "kwh: " << msg << " (see kwh --help)\n";
    return static_cast<int>(Exit::usage);
  }
  if (!ctx.action) {
    std::cerr << "kwh: nothing to do (see kwh --help)\n";
    return static_cast<int>(Exit::usage);
  }
  ctx.format(); // reject a bad --format before doing anything
  const cli::ChosenCommand chosen = cli::chosen_command(app);
  cli::authorize(ctx, chosen);
  const int rc = ctx.action();
  if (rc == 0) cli::record_audit(ctx, chosen);
  return rc;
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const kwh::Error& e) {
    std::cerr << "kwh: " << e.what() << '\n'; // one line already (kwh::Error)
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::cerr << "kwh: " << kwh::one_line(e.what()) << '\n'; // every error is one line on stderr
    return 1;
  }
}
