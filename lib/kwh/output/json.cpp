#include <kwh/output/json.hpp>

#include <fmt/format.h>

#include <cmath>

namespace kwh::output {

Json& Json::set(std::string key, Json value) {
  auto& obj = std::get<Object>(m_v);
  for (auto& [k, v] : obj) {
    if (k == key) {
      v = std::move(value);
      return *this;
    }
  }
  obj.emplace_back(std::move(key), std::move(value));
  return *this;
}

Json& Json::push(Json value) {
  std::get<Array>(m_v).push_back(std::move(value));
  return *this;
}

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (unsigned char c : s) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default:
      if (c < 0x20) out += fmt::format("\\u{:04x}", c);
      else out += static_cast<char>(c);
    }
  }
  return out;
}

namespace {
std::string format_real(double d) {
  if (!std::isfinite(d)) return "null";
  auto s = fmt::format("{}", d);
  return s;
}
} // namespace

std::string Json::text() const {
  switch (m_v.index()) {
  case 0: return "";
  case 1: return std::get<bool>(m_v) ? "yes" : "no";
  case 2: return fmt::format("{}", std::get<std::int64_t>(m_v));
  case 3: return format_real(std::get<double>(m_v));
  case 4: return std::get<std::string>(m_v);
  default: return dump(-1);
  }
}

std::string Json::dump(int indent) const {
  std::string out;
  dump_to(out, indent, 0);
  return out;
}

void Json::dump_to(std::string& out, int indent, int level) const {
  auto newline = [&](int lvl) {
    if (indent >= 0) {
      out += '\n';
      out.append(static_cast<std::size_t>(indent * lvl), ' ');
    }
  };
  switch (m_v.index()) {
  case 0: out += "null"; break;
  case 1: out += std::get<bool>(m_v) ? "true" : "false"; break;
  case 2: out += fmt::format("{}", std::get<std::int64_t>(m_v)); break;
  case 3: out += format_real(std::get<double>(m_v)); break;
  case 4:
    out += '"';
    out += json_escape(std::get<std::string>(m_v));
    out += '"';
    break;
  case 5: {
    const auto& a = std::get<Array>(m_v);
    if (a.empty()) {
      out += "[]";
      break;
    }
    out += '[';
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (i) out += indent >= 0 ? "," : ", ";
      newline(level + 1);
      a[i].dump_to(out, indent, level + 1);
    }
    newline(level);
    out += ']';
    break;
  }
  case 6: {
    const auto& o = std::get<Object>(m_v);
    if (o.empty()) {
      out += "{}";
      break;
    }
    out += '{';
    for (std::size_t i = 0; i < o.size(); ++i) {
      if (i) out += indent >= 0 ? "," : ", ";
      newline(level + 1);
      out += '"';
      out += json_escape(o[i].first);
      out += "\": ";
      o[i].second.dump_to(out, indent, level + 1);
    }
    newline(level);
    out += '}';
    break;
  }
  }
}

} // namespace kwh::output
