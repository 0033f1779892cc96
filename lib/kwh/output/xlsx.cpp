#include <kwh/output/xlsx.hpp>

#include <kwh/output/file.hpp>
#include <kwh/util/error.hpp>
#include <kwh/util/time.hpp>

#include <fmt/format.h>
#include <xlsxwriter.h>

#include <algorithm>
#include <array>
#include <optional>
#include <type_traits>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

namespace kwh::output {

namespace {

// The functions of libxlsxwriter kwh calls, from the library loaded on first use.
struct XlsxApi {
  decltype(&::workbook_new) workbook_new;
  decltype(&::lxw_workbook_free) lxw_workbook_free;
  decltype(&::workbook_close) workbook_close;
  decltype(&::workbook_add_worksheet) workbook_add_worksheet;
  decltype(&::workbook_add_format) workbook_add_format;
  decltype(&::format_set_bold) format_set_bold;
  decltype(&::format_set_num_format) format_set_num_format;
  decltype(&::worksheet_write_string) worksheet_write_string;
  decltype(&::worksheet_write_number) worksheet_write_number;
  decltype(&::worksheet_write_datetime) worksheet_write_datetime;
  decltype(&::worksheet_set_column) worksheet_set_column;
  decltype(&::worksheet_freeze_panes) worksheet_freeze_panes;
  decltype(&::lxw_strerror) lxw_strerror;
};

const XlsxApi& xlsx() {
  static const XlsxApi api = [] {
    void* lib = dlopen(KWH_XLSXWRITER_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) fail(Exit::failed, "cannot write a workbook: {} (install libxlsxwriter)", one_line(dlerror()));
    XlsxApi a{};
    auto get = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      if (!fn) fail(Exit::failed, "cannot write a workbook: {} has no {}", KWH_XLSXWRITER_SONAME, name);
    };
    get(a.workbook_new, "workbook_new");
    get(a.lxw_workbook_free, "lxw_workbook_free");
    get(a.workbook_close, "workbook_close");
    get(a.workbook_add_worksheet, "workbook_add_worksheet");
    get(a.workbook_add_format, "workbook_add_format");
    get(a.format_set_bold, "format_set_bold");
    get(a.format_set_num_format, "format_set_num_format");
    get(a.worksheet_write_string, "worksheet_write_string");
    get(a.worksheet_write_number, "worksheet_write_number");
    get(a.worksheet_write_datetime, "worksheet_write_datetime");
    get(a.worksheet_set_column, "worksheet_set_column");
    get(a.worksheet_freeze_panes, "worksheet_freeze_panes");
    get(a.lxw_strerror, "lxw_strerror");
    return a;
  }();
  return api;
}


// The number of decimals written in a decimal string ("12.345" -> 3).
int decimals_of(const std::string& s) {
  auto dot = s.find('.');
  return dot == std::string::npos ? 0 : static_cast<int>(s.size() - dot - 1);
}

std::optional<double> number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

std::optional<lxw_datetime> date_cell(const std::string& s) {
  int y, m, d;
  if (s.size() != 10 || std::sscanf(s.c_str(), "%4d-%2d-%2d", &y, &m, &d) != 3 || y < 1900) return std::nullopt;
  return lxw_datetime{y, m, d, 0, 0, 0.0};
}

std::optional<lxw_datetime> time_cell(const std::string& s) {
  auto t = parse_time(s);
  if (!t) return std::nullopt;
  auto l = to_local(*t);
  if (l.year < 1900) return std::nullopt; // before Excel's calendar: written as text
  return lxw_datetime{l.year, l.month, l.day, l.hour, l.minute, static_cast<double>(l.second)};
}

std::string sheet_name(std::string s) {
  for (auto& c : s)
    if (std::strchr("[]:*?/\\", c)) c = '_';
  if (s.size() > 31) s.resize(31);
  return s.empty() ? "report" : s;
}

// Decimal strings (kWh, money) rather than computed reals.
bool is_string(const Json& v) { return v.dump(-1).front() == '"'; }

std::string number_format(int decimals) { return decimals <= 0 ? "0" : "0." + std::string(decimals, '0'); }

// A private file in the temporary folder for the workbook, removed when done.
class Scratch {
public:
  Scratch() {
    const char* dir = std::getenv("TMPDIR");
    m_path = fmt::format("{}/kwh-xlsx-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = ::mkostemp(m_path.data(), O_CLOEXEC);
    if (fd < 0) fail(Exit::failed, "cannot make a scratch file for the workbook in {}: {}", m_path, std::strerror(errno));
    ::close(fd);
  }
  ~Scratch() { ::unlink(m_path.c_str()); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  const std::string& path() const { return m_path; }

private:
  std::string m_path;
};

// Owns the workbook until it is closed; a workbook dropped on an error is freed without
// being written (libxlsxwriter writes the file only in workbook_close).
class Workbook {
public:
  explicit Workbook(const std::string& path) : m_wb(xlsx().workbook_new(path.c_str())) {
    if (!m_wb) fail(Exit::failed, "cannot write {}: out of memory", path);
  }
  ~Workbook() {
    if (m_wb) xlsx().lxw_workbook_free(m_wb);
  }
  lxw_workbook* get() { return m_wb; }
  lxw_error close() {
    lxw_error e = xlsx().workbook_close(m_wb); // frees it in every case
    m_wb = nullptr;
    return e;
  }

private:
  lxw_workbook* m_wb;
};

class Sheet {
public:
  Sheet(Workbook& wb, const Table& t, const XlsxOptions& o) : m_wb(wb), m_t(t) {
    m_ws = xlsx().workbook_add_worksheet(wb.get(), sheet_name(o.sheet).c_str());
    m_header = xlsx().workbook_add_format(wb.get());
    xlsx().format_set_bold(m_header);
    m_date = with_format("yyyy-mm-dd");
    m_time = with_format("yyyy-mm-dd hh:mm:ss");
    m_money = with_format(number_format(o.minor_units));
    m_widths.assign(t.columns.size(), 8.0);
  }

  void write() {
    for (std::size_t c = 0; c < m_t.columns.size(); ++c) {
      xlsx().worksheet_write_string(m_ws, 0, col(c), m_t.columns[c].name.c_str(), m_header);
      widen(c, m_t.columns[c].name.size() + 2);
    }
    lxw_row_t r = 1;
    for (const auto& row : m_t.rows) {
      for (std::size_t c = 0; c < m_t.columns.size() && c < row.size(); ++c) cell(r, c, row[c]);
      ++r;
    }
    for (std::size_t c = 0; c < m_t.columns.size(); ++c)
      xlsx().worksheet_set_column(m_ws, col(c), col(c), std::min(m_widths[c], 60.0), nullptr);
    xlsx().worksheet_freeze_panes(m_ws, 1, 0);
  }

private:
  static lxw_col_t col(std::size_t c) { return static_cast<lxw_col_t>(c); }

  lxw_format* with_format(const std::string& f) {
    lxw_format* fmt = xlsx().workbook_add_format(m_wb.get());
    xlsx().format_set_num_format(fmt, f.c_str());
    return fmt;
  }

  // One format per number of decimals, so that "12.345" shows as 12.345 and not 12.35.
  lxw_format* decimals_format(int decimals) {
    auto& f = m_decimals[static_cast<std::size_t>(std::clamp(decimals, 0, 9))];
    if (!f) f = with_format(number_format(decimals));
    return f;
  }

  void widen(std::size_t c, std::size_t w) { m_widths[c] = std::max(m_widths[c], static_cast<double>(w) + 1); }

  void cell(lxw_row_t r, std::size_t c, const Json& v) {
    if (v.is_null()) return;
    const std::string text = v.text();
    switch (m_t.columns[c].kind) {
    case Kind::money:
      if (auto n = number(text)) {
        xlsx().worksheet_write_number(m_ws, r, col(c), *n, m_money);
        widen(c, text.size() + 1);
        return;
      }
      break;
    case Kind::integer:
    case Kind::real:
      if (auto n = number(text)) {
        // Decimal strings (kWh, m³) keep their decimals; computed reals use Excel's General.
        int d = decimals_of(text);
        xlsx().worksheet_write_number(m_ws, r, col(c), *n, d > 0 && is_string(v) ? decimals_format(d) : nullptr);
        widen(c, text.size());
        return;
      }
      break;
    case Kind::date:
      if (auto d = date_cell(text)) {
        xlsx().worksheet_write_datetime(m_ws, r, col(c), &*d, m_date);
        widen(c, 10);
        return;
      }
      break;
    case Kind::time:
      if (auto d = time_cell(text)) {
        xlsx().worksheet_write_datetime(m_ws, r, col(c), &*d, m_time);
        widen(c, 19);
        return;
      }
      break;
    case Kind::text:
    case Kind::status: break;
    }
    xlsx().worksheet_write_string(m_ws, r, col(c), text.c_str(), nullptr);
    widen(c, text.size());
  }

  Workbook& m_wb;
  const Table& m_t;
  lxw_worksheet* m_ws = nullptr;
  lxw_format *m_header = nullptr, *m_date = nullptr, *m_time = nullptr, *m_money = nullptr;
  std::array<lxw_format*, 10> m_decimals{};
  std::vector<double> m_widths;
};

} // namespace

void write_xlsx(const Table& table, const std::string& path, const XlsxOptions& options) {
  // FILE first, under the one rule for output files: a link, a folder or a missing folder is
  // reported here in one line, before any work.
  OutputFile out(path);
  // libxlsxwriter writes a workbook by name, and a device or FIFO cannot be renamed onto, so
  // the workbook is made in a scratch file of our own and copied into FILE.
  Scratch scratch;
  lxw_error e = LXW_NO_ERROR;
  {
    Workbook wb(scratch.path());
    Sheet(wb, table, options).write();
    e = wb.close();
  }
  if (e != LXW_NO_ERROR) fail(Exit::failed, "cannot write {}: {}; nothing written", path, xlsx().lxw_strerror(e));
  std::FILE* in = std::fopen(scratch.path().c_str(), "rb");
  if (!in) fail(Exit::failed, "cannot write {}: {}; nothing written", path, std::strerror(errno));
  std::array<char, 64 * 1024> buf{};
  try {
    while (std::size_t n = std::fread(buf.data(), 1, buf.size(), in)) out.write({buf.data(), n});
  } catch (...) {
    std::fclose(in);
    throw;
  }
  std::fclose(in);
  out.commit();
}

} // namespace kwh::output
