#pragma once
// The three roles of kwh-operator(1), in increasing order of what they may do:
// a viewer reads; a cashier also sells, refunds and switches relays; an admin does everything.

#include <optional>
#include <string_view>

namespace kwh::auth {

enum class Role { viewer = 0, cashier = 1, admin = 2 };

// "viewer", "cashier", "admin".
std::string_view role_name(Role role);
std::optional<Role> parse_role(std::string_view text);

// True when an operator with `has` may do what needs `needs`.
constexpr bool allows(Role has, Role needs) { return static_cast<int>(has) >= static_cast<int>(needs); }

} // namespace kwh::auth
