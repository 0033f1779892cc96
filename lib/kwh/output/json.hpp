#pragma once
// A small JSON value for output: objects keep their insertion order, so that scripts and
// people see fields in the order the man pages list them. kwh only writes JSON; it never
// needs to read it back.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace kwh::output {

class Json {
public:
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;

  Json() = default; // null
  Json(std::nullptr_t) {}
  Json(bool b) : m_v(b) {}
  Json(int i) : m_v(static_cast<std::int64_t>(i)) {}
  Json(std::int64_t i) : m_v(i) {}
  Json(double d) : m_v(d) {}
  Json(const char* s) : m_v(std::string(s)) {}
  Json(std::string s) : m_v(std::move(s)) {}
  Json(std::string_view s) : m_v(std::string(s)) {}
  Json(Array a) : m_v(std::move(a)) {}
  Json(Object o) : m_v(std::move(o)) {}

  static Json array() { return Json(Array{}); }
  static Json object() { return Json(Object{}); }

  // Object: sets (or replaces) a field. Array: appends.
  Json& set(std::string key, Json value);
  Json& push(Json value);

  bool is_null() const { return m_v.index() == 0; }
  bool is_object() const { return std::holds_alternative<Object>(m_v); }
  bool is_array() const { return std::holds_alternative<Array>(m_v); }
  const Object& as_object() const { return std::get<Object>(m_v); }
  const Array& as_array() const { return std::get<Array>(m_v); }
  // The value as plain text, as a table shows it ("" for null).
  std::string text() const;

  // indent < 0: one line.
  std::string dump(int indent = 2) const;

private:
  void dump_to(std::string& out, int indent, int level) const;
  std::variant<std::monostate, bool, std::int64_t, double, std::string, Array, Object> m_v;
};

std::string json_escape(std::string_view s);

} // namespace kwh::output
