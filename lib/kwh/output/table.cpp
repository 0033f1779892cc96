#include <kwh/output/table.hpp>

#include <kwh/util/error.hpp>

#include <fmt/format.h>

#include <cstdlib>
#include <ostream>
#include <unistd.h>

namespace kwh::output {

std::optional<Format> parse_format(std::string_view s) {
  if (s == "table") return Format::table;
  if (s == "json") return Format::json;
  if (s == "csv") return Format::csv;
  if (s == "xlsx") return Format::xlsx;
  return std::nullopt;
}

Table& Table::add(std::vector<Json> row) {
  rows.push_back(std::move(row));
  return *this;
}

bool use_color(int fd) {
  const char* no = std::getenv("NO_COLOR");
  if (no && *no) return false;
  const char* term = std::getenv("TERM");
  if (term && std::string_view(term) == "dumb") return false;
  return ::isatty(fd) == 1;
}

std::string csv_escape(std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string status_color(std::string_view s) {
  if (s == "ok" || s == "online" || s == "on" || s == "done") return "\033[32m";
  if (s == "alarm1" || s == "pending") return "\033[33m";
  if (s == "alarm2") return "\033[38;5;208m";
  if (s == "arrears" || s == "failed" || s == "off") return "\033[31m";
  if (s == "offline") return "\033[35m";
  if (s == "closed" || s == "unknown") return "\033[2m";
  return "";
}

namespace {

bool right_aligned(Kind k) { return k == Kind::integer || k == Kind::real || k == Kind::money; }

// Display width of UTF-8 text: counts code points, which is right for the names and CJK-free
// text kwh prints and close enough otherwise.
std::size_t width(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

void render_table(const Table& t, std::ostream& out, const RenderOptions& opts) {
  const std::size_t ncol = t.columns.size();
  std::vector<std::size_t> w(ncol, 0);
  auto header = [&](std::size_t i) {
    const auto& c = t.columns[i];
    std::string h = c.title.empty() ? c.name : c.title;
    for (auto& ch : h) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return h;
  };
  for (std::size_t i = 0; i < ncol; ++i) w[i] = width(header(i));
  auto widen = [&](const std::vector<Json>& row) {
    for (std::size_t i = 0; i < ncol && i < row.size(); ++i) w[i] = std::max(w[i], width(row[i].text()));
  };
  for (const auto& r : t.rows) widen(r);
  if (!t.totals.empty()) widen(t.totals);

  auto line = [&](const std::vector<std::string>& cells, bool is_header, bool colorize) {
    std::string s;
    for (std::size_t i = 0; i < ncol; ++i) {
      const std::string& v = i < cells.size() ? cells[i] : std::string();
      std::size_t pad = w[i] - std::min(w[i], width(v));
      bool right = !is_header && right_aligned(t.columns[i].kind);
      bool last = i + 1 == ncol;
      std::string color = colorize && t.columns[i].kind == Kind::status ? status_color(v) : "";
      if (right) s.append(pad, ' ');
      s += color.empty() ? v : color + v + "\033[0m";
      if (!right && !last) s.append(pad, ' ');
      if (!last) s += "  ";
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << '\n';
  };
  std::vector<std::string> hs;
  for (std::size_t i = 0; i < ncol; ++i) hs.push_back(header(i));
  line(hs, true, false);
  for (const auto& r : t.rows) {
    std::vector<std::string> cells;
    for (const auto& v : r) cells.push_back(v.text());
    line(cells, false, opts.color);
  }
  if (!t.totals.empty()) {
    std::vector<std::string> sep;
    for (std::size_t i = 0; i < ncol; ++i) sep.push_back(std::string(w[i], '-'));
    line(sep, true, false);
    std::vector<std::string> cells;
    for (const auto& v : t.totals) cells.push_back(v.text());
    line(cells, false, false);
  }
}

void render_csv(const Table& t, std::ostream& out) {
  for (std::size_t i = 0; i < t.columns.size(); ++i) out << (i ? "," : "") << csv_escape(t.columns[i].name);
  out << '\n';
  for (const auto& r : t.rows) {
    for (std::size_t i = 0; i < t.columns.size(); ++i)
      out << (i ? "," : "") << csv_escape(i < r.size() ? r[i].text() : std::string());
    out << '\n';
  }
}

void render_json(const Table& t, std::ostream& out) {
  Json arr = Json::array();
  for (const auto& r : t.rows) {
    Json o = Json::object();
    for (std::size_t i = 0; i < t.columns.size(); ++i) o.set(t.columns[i].name, i < r.size() ? r[i] : Json());
    arr.push(std::move(o));
  }
  out << arr.dump() << '\n';
}

void render_object_lines(const Json& obj, std::ostream& out, const std::string& prefix, std::size_t keyw,
                         const RenderOptions& opts) {
  for (const auto& [k, v] : obj.as_object()) {
    std::string key = prefix + k;
    if (v.is_object()) {
      render_object_lines(v, out, key + ".", keyw, opts);
      continue;
    }
    std::string text;
    if (v.is_array()) {
      for (const auto& e : v.as_array()) text += (text.empty() ? "" : ", ") + e.text();
    } else {
      text = v.text();
    }
    std::string color = opts.color && (k == "status" || k == "relay") ? status_color(text) : "";
    out << fmt::format("{:<{}}  {}\n", key + ":", keyw + 1, color.empty() ? text : color + text + "\033[0m");
  }
}

std::size_t key_width(const Json& obj, const std::string& prefix) {
  std::size_t w = 0;
  for (const auto& [k, v] : obj.as_object())
    w = std::max(w, v.is_object() ? key_width(v, prefix + k + ".") : width(prefix + k));
  return w;
}

} // namespace

void render(const Table& t, Format f, std::ostream& out, const RenderOptions& opts) {
  if (opts.quiet) {
    for (const auto& r : t.rows)
      if (!r.empty()) out << r[0].text() << '\n';
    return;
  }
  switch (f) {
  case Format::table: render_table(t, out, opts); break;
  case Format::csv: render_csv(t, out); break;
  case Format::json: render_json(t, out); break;
  case Format::xlsx: fail(Exit::usage, "--format xlsx is for reports, with --output FILE.xlsx");
  }
}

void render_object(const Json& obj, Format f, std::ostream& out, const RenderOptions& opts) {
  if (f == Format::json) {
    out << obj.dump() << '\n';
    return;
  }
  if (opts.quiet) {
    if (obj.is_object() && !obj.as_object().empty()) out << obj.as_object().front().second.text() << '\n';
    return;
  }
  if (f == Format::csv) {
    out << "key,value\n";
    for (const auto& [k, v] : obj.as_object()) out << csv_escape(k) << ',' << csv_escape(v.text()) << '\n';
    return;
  }
  render_object_lines(obj, out, "", key_width(obj, ""), opts);
}

} // namespace kwh::output
