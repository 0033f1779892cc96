#include <kwh/auth/commands.hpp>

namespace kwh::auth {

namespace {
constexpr bool k_changes = true;
constexpr bool k_reads = false;
} // namespace

const std::vector<CommandRule>& command_rules() {
  static const std::vector<CommandRule> k_rules = {
      // Setting up the site: admin.
      {"init", Role::admin, k_changes},
      {"gateway add", Role::admin, k_changes},
      {"gateway remove", Role::admin, k_changes},
      {"gateway retire", Role::admin, k_changes},
      // A sheet of them at once: the role of the command that adds one.
      {"gateway import", Role::admin, k_changes},
      {"gateway list", Role::viewer, k_reads},
      {"gateway show", Role::viewer, k_reads},
      {"gateway test", Role::viewer, k_reads},
      {"meter add", Role::admin, k_changes},
      {"meter import", Role::admin, k_changes},
      {"meter set", Role::admin, k_changes},
      {"meter replace", Role::admin, k_changes},
      {"meter remove", Role::admin, k_changes},
      {"meter list", Role::viewer, k_reads},
      {"meter show", Role::viewer, k_reads},
      // With --direct it asks the meter on the bus; reading is still all it does.
      {"meter read", Role::viewer, k_reads},
      // Sets the meters' clocks (through kwhd): the operator's work, like switching relays.
      {"meter sync-time", Role::cashier, k_changes},
      {"tariff add", Role::admin, k_changes},
      {"tariff list", Role::viewer, k_reads},
      {"tariff show", Role::viewer, k_reads},
      // Writes prices into meters (through kwhd): setting up the site, like tariff add.
      {"tariff issue", Role::admin, k_changes},
      {"account open", Role::admin, k_changes},
      {"account import", Role::admin, k_changes},
      {"account attach", Role::admin, k_changes},
      {"account detach", Role::admin, k_changes},
      {"account close", Role::admin, k_changes},
      {"account list", Role::viewer, k_reads},
      {"account show", Role::viewer, k_reads},
      // A login link to the tenant's page: the cashier sends it; issuing one is audited.
      {"account link", Role::cashier, k_changes},
      // Emergency credit is a loan the tenant asks for at the counter: the cashier's.
      {"account credit", Role::cashier, k_changes},
      // Debts: recording one is the office's; reading them is anyone's.
      {"account debt add", Role::admin, k_changes},
      {"account debt list", Role::viewer, k_reads},
      // The cashier's work: money and relays.
      {"sell", Role::cashier, k_changes},
      {"refund", Role::cashier, k_changes},
      {"relay", Role::cashier, k_changes},
      {"relay on", Role::cashier, k_changes},
      {"relay off", Role::cashier, k_changes},
      {"relay auto", Role::cashier, k_changes},
      {"relay protect", Role::cashier, k_changes},
      // Readings that change bills: admin.
      {"reading import", Role::admin, k_changes},
      {"reading accept", Role::admin, k_changes},
      {"reading reject", Role::admin, k_changes},
      {"reading list", Role::viewer, k_reads},
      {"reading prune", Role::admin, k_changes},
      {"report", Role::viewer, k_reads},
      {"operator add", Role::admin, k_changes},
      {"operator remove", Role::admin, k_changes},
      {"operator list", Role::viewer, k_reads},
      {"log", Role::viewer, k_reads},
      {"check", Role::viewer, k_reads},
      // The office's hub: its commands need no site database; PostgreSQL authorizes them (the
      // connection's role and pg_hba.conf). The site's push state is for anyone.
      {"hub init", Role::admin, k_changes, false},
      {"hub sell", Role::cashier, k_changes, false},
      {"hub report", Role::viewer, k_reads, false},
      {"hub check", Role::viewer, k_reads, false},
      {"hub status", Role::viewer, k_reads},
      {"hub reset-epoch", Role::admin, k_changes},
      {"sim", Role::viewer, k_reads, false},
      // A service like kwhd: the database file's permissions admit it, not an operator role,
      // and it writes the audit entry of each sale it makes itself.
      {"serve", Role::viewer, k_reads, false},
  };
  return k_rules;
}

CommandRule command_rule(std::string_view path) {
  std::string_view p = path;
  while (!p.empty()) {
    for (const auto& r : command_rules())
      if (r.path == p) return r;
    auto space = p.rfind(' ');
    if (space == std::string_view::npos) break;
    p = p.substr(0, space);
  }
  return CommandRule{path, Role::admin, k_changes, true};
}

} // namespace kwh::auth
