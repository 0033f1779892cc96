#pragma once
// What every subcommand shares: the global options, the configuration and the database
// (both opened lazily, on first use), and the output settings. Subcommands register their
// options in add_<group>() and set ctx.action; main runs it once parsing has succeeded.

#include <kwh/config/config.hpp>
#include <kwh/output/table.hpp>
#include <kwh/storage/database.hpp>

#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kwh::cli {

class Context {
public:
  // Global options (kwh(1)); they may stand before or after the subcommand.
  std::optional<std::string> db_option;
  std::optional<std::string> config_option;
  std::string format_option = "table";
  bool json = false;
  bool quiet = false;
  bool yes = false;

  // The command line as typed, for the audit log.
  std::string command_line;
  // Set by the chosen subcommand; returns the exit code.
  std::function<int()> action;
  // The operator running the command (a login name), set by authorize() before the action
  // runs; for the ledger's operator column and audit entries.
  std::string operator_name;
  // A command that writes its own audit entry inside its transaction (audit_now()) sets this,
  // so that record_audit() does not write a second one; so does one that changed nothing.
  bool audit_written = false;
  // The command being run, set by authorize(): what its audit entry names.
  std::string command_path, command_subject;
  // Writes the command's audit entry now, in the caller's open transaction, so that the change
  // and its entry commit together (one fsync, and no change without its entry after a crash).
  // `detail` is kept with it (an import's file, SHA-256 and counts).
  void audit_now(std::optional<std::string> detail = std::nullopt);

  const config::Config& config();
  std::string database_path();
  // The database, migrated to the current schema (a database that needs migrating says to run
  // `kwh init`). Throws Error(no_input) when there is none.
  storage::Database& db();

  output::Format format() const;
  output::RenderOptions render_options() const;
  void print(const output::Table& t) const;
  void print(const output::Json& obj) const;
  std::ostream& out() const { return std::cout; }

  int minor_units() { return config().minor_units; }
  std::string money(std::int64_t minor) { return Money::from_minor(minor).format(minor_units()); }
  Money parse_money(const std::string& text, bool allow_negative = false);

  // Expands "-" in a list of ids into the ids read from standard input (one a line or
  // separated by blanks); fails with usage when the result is empty.
  static std::vector<std::string> expand_ids(const std::vector<std::string>& ids);

private:
  std::optional<config::Config> m_config;
  std::unique_ptr<storage::Database> m_db;
};

// An option's check that its value is a number from lo to hi, with errors that say so plainly
// ("--wait: 'abc' is not a number", "--meters: 0 is outside 1 to 100000").
CLI::Validator within(double lo, double hi);

// The subcommand that parsing chose: its path ("relay off") and its positional arguments (the
// subject of its audit entry). Implemented with authorize() and record_audit() in operator.cpp.
struct ChosenCommand {
  std::string path;
  std::string subject;
};
ChosenCommand chosen_command(const CLI::App& app);
// Before the action: refuses a world-writable configuration (78), sets ctx.operator_name and
// checks the operator's role for the command (77), as the table in kwh/auth/commands.hpp says.
void authorize(Context& ctx, const ChosenCommand& chosen);
// After an action that returned 0: one audit entry for a command that changes the database.
void record_audit(Context& ctx, const ChosenCommand& chosen);

// Each command group registers itself.
void add_init(CLI::App& app, Context& ctx);
void add_gateway(CLI::App& app, Context& ctx);
void add_meter(CLI::App& app, Context& ctx);
void add_tariff(CLI::App& app, Context& ctx);
void add_account(CLI::App& app, Context& ctx);
void add_sell(CLI::App& app, Context& ctx);
void add_refund(CLI::App& app, Context& ctx);
void add_relay(CLI::App& app, Context& ctx);
void add_reading(CLI::App& app, Context& ctx);
void add_report(CLI::App& app, Context& ctx);
void add_operator(CLI::App& app, Context& ctx);
void add_log(CLI::App& app, Context& ctx);
void add_check(CLI::App& app, Context& ctx);
void add_sim(CLI::App& app, Context& ctx);
void add_serve(CLI::App& app, Context& ctx);
void add_hub(CLI::App& app, Context& ctx);

} // namespace kwh::cli
