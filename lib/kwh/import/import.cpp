#include <kwh/import/detail.hpp>
#include <kwh/import/import.hpp>

#include <kwh/crypto/sha256.hpp>
#include <kwh/storage/database.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace kwh::import {

const char* kind_name(Kind k) {
  switch (k) {
  case Kind::gateways: return "gateways";
  case Kind::meters: return "meters";
  case Kind::accounts: return "accounts";
  }
  return "meters";
}

const char* action_name(Action a) {
  switch (a) {
  case Action::add: return "add";
  case Action::update: return "update";
  case Action::skip: return "skip";
  }
  return "skip";
}

namespace {

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (std::size_t i = 0; i < suffix.size(); ++i) {
    char a = s[s.size() - suffix.size() + i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (a != suffix[i]) return false;
  }
  return true;
}

// A spreadsheet's own format rather than CSV: by its name, or by its first bytes (a zip file,
// as .xlsx and .ods are, or an OLE2 compound file, as .xls is).
bool spreadsheet(std::string_view name, std::string_view text) {
  for (const char* ext : {".xlsx", ".xlsm", ".xls", ".ods"})
    if (ends_with_ci(name, ext)) return true;
  return text.substr(0, 4) == std::string_view("PK\x03\x04", 4) ||
         text.substr(0, 8) == std::string_view("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8);
}

} // namespace

Sheet sheet_from_text(std::string text, std::string name) {
  if (spreadsheet(name, text))
    fail(Exit::data, "{}: kwh reads CSV only; save the sheet as CSV (UTF-8) and import that file", name);
  Sheet s;
  s.sha256 = sha256_hex(text);
  s.text = std::move(text);
  s.name = std::move(name);
  return s;
}

Sheet read_sheet(const std::string& path) {
  if (path == "-") {
    std::string text{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
    if (std::cin.bad()) fail(Exit::no_input, "cannot read standard input");
    return sheet_from_text(std::move(text), "<stdin>");
  }
  // By name first: an .xlsx is refused with the same message whether or not it can be read.
  if (spreadsheet(path, {})) return sheet_from_text({}, path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(Exit::no_input, "cannot read {}: {}", path, std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail(Exit::no_input, "cannot read {}", path);
  return sheet_from_text(std::move(text).str(), path);
}

namespace detail {

const std::vector<ColumnSpec>& specs(Kind kind) {
  switch (kind) {
  case Kind::gateways: return gateway_columns();
  case Kind::meters: return meter_columns();
  case Kind::accounts: return account_columns();
  }
  return meter_columns();
}

namespace {

std::string normal_name(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c == '-' || c == ' ') c = '_';
    out += c;
  }
  return out;
}

std::string known_columns(Kind kind) {
  std::string in, ignored;
  for (const auto& c : specs(kind)) {
    std::string& to = c.read_only ? ignored : in;
    to += (to.empty() ? "" : ", ") + std::string(c.name);
    if (!c.alias.empty()) to += fmt::format(" (or {})", c.alias);
  }
  return fmt::format("a {} file has {}; it ignores {}", kind_name(kind), in, ignored);
}

} // namespace

Header map_header(Kind kind, const CsvRecord& header, std::vector<RowError>& errors) {
  const auto& cols = specs(kind);
  Header h;
  h.field.assign(cols.size(), -1);
  h.width = header.fields.size();
  for (std::size_t i = 0; i < header.fields.size(); ++i) {
    const std::string name = normal_name(header.fields[i]);
    if (name.empty()) {
      errors.push_back({header.line, fmt::format("column {} has no name", i + 1)});
      continue;
    }
    auto it = std::find_if(cols.begin(), cols.end(), [&](const ColumnSpec& c) { return c.name == name || c.alias == name; });
    if (it == cols.end()) {
      errors.push_back({header.line, fmt::format("unknown column '{}' ({})", header.fields[i], known_columns(kind))});
      continue;
    }
    int& field = h.field[static_cast<std::size_t>(it - cols.begin())];
    if (field >= 0) {
      errors.push_back({header.line, fmt::format("column '{}' is column {} again ('{}')", header.fields[i], field + 1,
                                                 header.fields[static_cast<std::size_t>(field)])});
      continue;
    }
    field = static_cast<int>(i);
  }
  if (h.field[0] < 0)
    errors.push_back({header.line, fmt::format("no column '{}'{}: it names each row's {}", cols[0].name,
                                                cols[0].alias.empty() ? "" : fmt::format(" (or '{}')", cols[0].alias),
                                                kind == Kind::gateways ? "gateway" : kind == Kind::meters ? "meter" : "account")});
  return h;
}

std::optional<std::string_view> Row::cell(int column) const {
  const int f = m_header.field[static_cast<std::size_t>(column)];
  if (f < 0) return std::nullopt;
  return std::string_view(m_record.fields[static_cast<std::size_t>(f)]);
}

std::optional<std::string> Row::text(int column) const {
  auto c = cell(column);
  if (!c || c->empty()) return std::nullopt;
  return std::string(*c);
}

std::int64_t whole_number(std::string_view text, std::string_view column) {
  std::size_t i = 0;
  const bool negative = !text.empty() && text[0] == '-';
  if (negative) i = 1;
  std::int64_t v = 0;
  const std::size_t digits = i;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (v > (INT64_MAX - 9) / 10) fail(Exit::data, "{} '{}' is too large", column, text);
    v = v * 10 + (text[i] - '0');
  }
  if (i == digits || i != text.size()) fail(Exit::data, "{} '{}' is not a whole number", column, text);
  return negative ? -v : v;
}

Money money(std::string_view text, std::string_view column, int minor_units, bool allow_negative) {
  auto m = Money::parse(text, minor_units, allow_negative);
  if (!m) fail(Exit::data, "{}: {}", column, m.error().what());
  return *m;
}

std::string shown(const std::optional<std::string>& v) { return v ? *v : std::string("(none)"); }
std::string shown(const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : std::string("(none)"); }

void Job::bad(int line, std::string reason) { result.errors.push_back({line, std::move(reason)}); }

void Job::done(int line, std::string id, Action action, std::string detail) {
  switch (action) {
  case Action::add: ++result.added; break;
  case Action::update: ++result.updated; break;
  case Action::skip: ++result.skipped; break;
  }
  result.rows.push_back({line, std::move(id), action, std::move(detail)});
}

void Job::changed(int line, const std::string& what, const std::string& id, const std::vector<std::string>& changes,
                  const std::function<void()>& apply) {
  if (changes.empty()) {
    done(line, id, Action::skip, "as stored");
    return;
  }
  std::string list;
  for (const auto& c : changes) list += (list.empty() ? "" : "; ") + c;
  if (!options.update)
    fail(Exit::data, "{} {} is stored otherwise: {} (import with --update to change it)", what, id, list);
  apply();
  done(line, id, Action::update, list);
}

void Job::row(int line, const std::function<void()>& f) {
  storage::Savepoint sp(db, "kwh_import_row");
  try {
    f();
  } catch (const Error& e) {
    if (e.code() == Exit::temporary || e.code() == Exit::failed) throw;
    bad(line, e.what());
    return; // the savepoint rolls the row back
  }
  sp.release();
}

void for_each_row(Job& job, Kind kind, const Header& header, const std::vector<CsvRecord>& records,
                  const std::function<void(const Row&, const std::string& id)>& f) {
  const char* what = kind == Kind::gateways ? "gateway" : kind == Kind::meters ? "meter" : "account";
  std::map<std::string, int, std::less<>> seen; // ID -> its line
  for (std::size_t i = 1; i < records.size(); ++i) {
    const CsvRecord& rec = records[i];
    if (rec.blank()) continue;
    if (rec.fields.size() != header.width) {
      job.bad(rec.line, fmt::format("{} field{}, but the header has {}", rec.fields.size(),
                                    rec.fields.size() == 1 ? "" : "s", header.width));
      continue;
    }
    Row row(rec, header);
    auto id = row.text(0);
    if (!id) {
      job.bad(rec.line, fmt::format("no {} ID (column '{}')", what, specs(kind)[0].name));
      continue;
    }
    if (auto [it, fresh] = seen.emplace(*id, rec.line); !fresh) {
      job.bad(rec.line, fmt::format("{} {} is on line {} already", what, *id, it->second));
      continue;
    }
    job.row(rec.line, [&] { f(row, *id); });
  }
}

namespace {

// An import touches a page of meters, accounts or the ledger with each row, and every row is a
// savepoint: with SQLite's default 2 MB page cache and savepoint journals in files, a site's
// accounts write the same pages to disk over and over before they commit. Both for the import
// only: the connection may live on.
class Bulk {
public:
  explicit Bulk(storage::Database& db) : m_db(db) {
    m_cache = value("PRAGMA cache_size");
    m_temp = value("PRAGMA temp_store");
    db.exec("PRAGMA cache_size = -131072");
    db.exec("PRAGMA temp_store = MEMORY");
  }
  ~Bulk() {
    try {
      m_db.exec(fmt::format("PRAGMA cache_size = {}", m_cache));
      m_db.exec(fmt::format("PRAGMA temp_store = {}", m_temp));
    } catch (...) {
    }
  }
  Bulk(const Bulk&) = delete;
  Bulk& operator=(const Bulk&) = delete;

private:
  std::int64_t value(const char* pragma) {
    auto st = m_db.prepare(pragma);
    st.step();
    return st.get_int(0);
  }
  storage::Database& m_db;
  std::int64_t m_cache = 0, m_temp = 0;
};

} // namespace

} // namespace detail

Result run(storage::Database& db, const config::Config& config, Kind kind, const Sheet& sheet, const Options& options,
           const std::function<void(const Result&)>& also) {
  Result r;
  r.kind = kind;
  r.file = sheet.name;
  r.sha256 = sheet.sha256;
  Csv csv = parse_csv(sheet.text);
  for (auto& e : csv.errors) r.errors.push_back({e.line, std::move(e.reason)});
  // The header: without it (or with one that cannot be read) no row can be.
  if (csv.records.empty() || csv.records.front().line != 1) {
    if (r.errors.empty() || r.errors.front().line != 1) {
      const char* example = kind == Kind::gateways ? "name,tcp,timeout_ms"
                            : kind == Kind::meters ? "id,gateway,unit,profile,building,room"
                                                   : "id,name,tariff,meters,opening_balance";
      r.errors.insert(r.errors.begin(), {1, fmt::format("no header line: the first line names the columns, such as {}",
                                                         example)});
    }
    return r;
  }
  detail::Header header = detail::map_header(kind, csv.records.front(), r.errors);
  if (!r.errors.empty() && r.errors.front().line == 1) {
    std::stable_sort(r.errors.begin(), r.errors.end(), [](const RowError& a, const RowError& b) { return a.line < b.line; });
    return r;
  }

  detail::Bulk bulk(db);
  storage::Transaction tx(db);
  detail::Job job{db, config, options, r, options.now ? options.now : now()};
  switch (kind) {
  case Kind::gateways: detail::import_gateways(job, header, csv.records); break;
  case Kind::meters: detail::import_meters(job, header, csv.records); break;
  case Kind::accounts: detail::import_accounts(job, header, csv.records); break;
  }
  std::stable_sort(r.errors.begin(), r.errors.end(), [](const RowError& a, const RowError& b) { return a.line < b.line; });
  if (!r.errors.empty() || options.dry_run) return r; // rolled back
  if (also) also(r);
  tx.commit();
  r.written = true;
  return r;
}

std::vector<std::string> columns(Kind kind) {
  std::vector<std::string> out;
  for (const auto& c : detail::specs(kind))
    if (!c.read_only) out.emplace_back(c.name);
  return out;
}

std::vector<std::string> read_only_columns(Kind kind) {
  std::vector<std::string> out;
  for (const auto& c : detail::specs(kind))
    if (c.read_only) out.emplace_back(c.name);
  return out;
}

} // namespace kwh::import
