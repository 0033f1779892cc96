#pragma once
// Operators: the login names allowed to use kwh on this site's database, each with a role.
//
// The operator is the login name of the user running kwh, or SUDO_USER when root runs it through
// sudo (kwh-operator(1)). Until the first operator is added, whoever can open the
// database is an admin, so that a new site can start; from then on an unknown user is refused.
// Protection of the file itself is the job of file permissions (see file_mode.hpp): anyone who
// can write the file can also edit the operators table with sqlite3.

#include <kwh/auth/role.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/util/time.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kwh::auth {

struct Operator {
  std::string name;
  Role role = Role::viewer;
  UnixTime created = 0;
};

// Who is running kwh: SUDO_USER when the effective user is root and SUDO_USER is set, else the
// login name of the effective user id (the numeric id when it has no name).
std::string current_login();

std::vector<Operator> list_operators(storage::Database& db);
std::optional<Operator> find_operator(storage::Database& db, std::string_view name);
bool has_operators(storage::Database& db);

// Adds an operator. Errors (Exit::data): a bad name, an existing name, or a first operator who
// is not an admin (operators without an admin could never add or remove anyone again).
Operator add_operator(storage::Database& db, std::string_view name, Role role, UnixTime created);
// Removes an operator. Errors: no such operator (Exit::no_input); removing the last admin while
// other operators remain (Exit::data).
void remove_operator(storage::Database& db, std::string_view name);

// Who `login` is allowed to be for a command needing `needs`. Returns the operator: the one in
// the table, or `login` as an admin while the table is empty. Throws Error(Exit::no_perm) for
// an unknown user or a role below `needs`; `what` names the command in the message, e.g.
// "'kwh sell' needs the cashier role; alice is a viewer".
Operator authorize(storage::Database& db, const std::string& login, Role needs, std::string_view what);

} // namespace kwh::auth
