#pragma once
// Which role each `kwh` command needs, whether it changes the database (and so is written to
// the audit log), and whether it opens a database at all. This table is the one place where
// these rules live; the CLI looks every command up here before running it.

#include <kwh/auth/role.hpp>

#include <string_view>
#include <vector>

namespace kwh::auth {

struct CommandRule {
  // The subcommand path as typed, words separated by one space: "sell", "relay off",
  // "report sales". An entry for a group ("report") covers every command under it that has no
  // entry of its own.
  std::string_view path;
  Role needs = Role::admin;
  // A command that changes the database gets one audit entry when it succeeds.
  bool changes = true;
  // A command that never opens the database (kwh sim) is not checked and not audited.
  bool uses_database = true;
};

// The rule for a command path: its own entry, else the entry of the nearest group above it,
// else admin, changes, uses the database (a command nobody listed is treated as the most
// dangerous kind).
CommandRule command_rule(std::string_view path);

// Every entry, for documentation and tests.
const std::vector<CommandRule>& command_rules();

} // namespace kwh::auth
