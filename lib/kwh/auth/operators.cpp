#include <kwh/auth/operators.hpp>

#include <kwh/util/error.hpp>

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace kwh::auth {

namespace {

Operator read_operator(storage::Statement& st) {
  Operator op;
  op.name = st.get_text(0);
  op.role = parse_role(st.get_text(1)).value_or(Role::viewer);
  op.created = st.get_int(2);
  return op;
}

// Login names as useradd(8) accepts them, so that an operator name is never a surprise in a
// log line or a shell command.
bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '-') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.' || c == '@' || c == '$';
    if (!ok) return false;
  }
  return true;
}

} // namespace

std::string current_login() {
  uid_t uid = geteuid();
  if (uid == 0) {
    if (const char* sudo_user = std::getenv("SUDO_USER"); sudo_user && *sudo_user) return sudo_user;
  }
  if (const passwd* pw = getpwuid(uid); pw && pw->pw_name) return pw->pw_name;
  return std::to_string(uid);
}

std::vector<Operator> list_operators(storage::Database& db) {
  std::vector<Operator> out;
  auto st = db.prepare("SELECT name, role, created FROM operators ORDER BY name");
  while (st.step()) out.push_back(read_operator(st));
  return out;
}

std::optional<Operator> find_operator(storage::Database& db, std::string_view name) {
  auto st = db.prepare("SELECT name, role, created FROM operators WHERE name = ?1");
  st.bind(1, name);
  if (!st.step()) return std::nullopt;
  return read_operator(st);
}

bool has_operators(storage::Database& db) {
  auto st = db.prepare("SELECT EXISTS (SELECT 1 FROM operators)");
  st.step();
  return st.get_int(0) != 0;
}

Operator add_operator(storage::Database& db, std::string_view name, Role role, UnixTime created) {
  if (!valid_name(name))
    fail(Exit::data, "'{}' is not a valid operator name (a login name: letters, digits, '.', '_', '-')", name);
  if (auto existing = find_operator(db, name))
    fail(Exit::data, "{} is already an operator ({}); remove it first to change the role", name,
         role_name(existing->role));
  if (role != Role::admin && !has_operators(db))
    fail(Exit::data, "the first operator must be an admin, or nobody could manage operators; "
                     "add one with 'kwh operator add NAME --role admin'");
  db.prepare("INSERT INTO operators(name, role, created) VALUES (?1, ?2, ?3)")
      .bind_all(name, role_name(role), created)
      .run();
  return Operator{std::string(name), role, created};
}

void remove_operator(storage::Database& db, std::string_view name) {
  auto existing = find_operator(db, name);
  if (!existing) fail(Exit::no_input, "no such operator: {}", name);
  if (existing->role == Role::admin) {
    // Removing the only operator is allowed: the site is back to "whoever can open the file".
    auto st = db.prepare("SELECT count(*), count(*) FILTER (WHERE role = 'admin') FROM operators WHERE name != ?1");
    st.bind(1, name);
    st.step();
    if (st.get_int(0) > 0 && st.get_int(1) == 0)
      fail(Exit::data, "{} is the last admin; add another admin before removing it", name);
  }
  db.prepare("DELETE FROM operators WHERE name = ?1").bind(1, name).run();
}

Operator authorize(storage::Database& db, const std::string& login, Role needs, std::string_view what) {
  if (!has_operators(db)) return Operator{login, Role::admin, 0};
  auto op = find_operator(db, login);
  if (!op)
    fail(Exit::no_perm, "{} is not a kwh operator; an admin can add it with 'kwh operator add {} --role ROLE'",
         login, login);
  if (!allows(op->role, needs))
    fail(Exit::no_perm, "{} needs the {} role; {} is {} {}", what, role_name(needs), login,
         op->role == Role::admin ? "an" : "a", role_name(op->role));
  return *op;
}

} // namespace kwh::auth
