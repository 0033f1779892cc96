#include <kwh/modbus/builtin.hpp>
#include <kwh/modbus/profile.hpp>

#include <algorithm>

namespace kwh::modbus {

std::vector<std::string> builtin_profile_names() {
  std::vector<std::string> names;
  for (const auto& f : detail::builtin_files()) names.emplace_back(f.name);
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<std::string_view> builtin_profile_text(std::string_view name) {
  for (const auto& f : detail::builtin_files())
    if (f.name == name) return f.text;
  return std::nullopt;
}

} // namespace kwh::modbus
