#include <kwh/auth/role.hpp>

namespace kwh::auth {

std::string_view role_name(Role role) {
  switch (role) {
  case Role::viewer: return "viewer";
  case Role::cashier: return "cashier";
  case Role::admin: return "admin";
  }
  return "admin";
}

std::optional<Role> parse_role(std::string_view text) {
  if (text == "viewer") return Role::viewer;
  if (text == "cashier") return Role::cashier;
  if (text == "admin") return Role::admin;
  return std::nullopt;
}

} // namespace kwh::auth
