#include "context.hpp"

#include <kwh/util/time.hpp>

#include <fmt/format.h>

#include <charconv>
#include <sstream>

namespace kwh::cli {

const config::Config& Context::config() {
  if (!m_config) {
    m_config = config::load(config_option);
    set_site_timezone(m_config->timezone);
  }
  return *m_config;
}

std::string Context::database_path() { return config::resolve_database_path(db_option, config()); }

storage::Database& Context::db() {
  if (!m_db) {
    auto db = storage::Database::open(database_path(), storage::OpenMode::existing);
    int v = db->user_version();
    if (v < storage::schema_version_latest())
      fail(Exit::failed, "database {} has schema version {}; run 'kwh init' to upgrade it to {}", db->path(), v,
           storage::schema_version_latest());
    if (v > storage::schema_version_latest())
      fail(Exit::failed, "database {} has schema version {}, newer than this kwh knows ({}); upgrade kwh",
           db->path(), v, storage::schema_version_latest());
    storage::check_minor_units(*db, config().minor_units);
    // A command's few pages wait in the WAL for kwhd (whose writer checkpoints as it commits)
    // or for the last connection to close: a cashier's sale must not stop to copy the pages
    // the daemon wrote into the database file (p99 of a sale under load: 50 ms with, 34 ms
    // without). `reading import` writes enough to checkpoint its own.
    db->exec("PRAGMA wal_autocheckpoint = 0");
    m_db = std::move(db);
  }
  return *m_db;
}

output::Format Context::format() const {
  if (json) return output::Format::json;
  auto f = output::parse_format(format_option);
  if (!f) fail(Exit::usage, "--format must be table, json, csv or xlsx, not '{}'", format_option);
  return *f;
}

output::RenderOptions Context::render_options() const {
  return output::RenderOptions{output::use_color(1), quiet};
}

void Context::print(const output::Table& t) const { output::render(t, format(), std::cout, render_options()); }

void Context::print(const output::Json& obj) const {
  output::render_object(obj, format(), std::cout, render_options());
}

Money Context::parse_money(const std::string& text, bool allow_negative) {
  auto m = Money::parse(text, minor_units(), allow_negative);
  if (!m) throw m.error();
  return *m;
}

std::vector<std::string> Context::expand_ids(const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  for (const auto& id : ids) {
    if (id != "-") {
      out.push_back(id);
      continue;
    }
    std::string word;
    while (std::cin >> word) out.push_back(word);
  }
  if (out.empty()) fail(Exit::usage, "no ids given (standard input was empty)");
  return out;
}

CLI::Validator within(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& value) -> std::string {
        double v = 0;
        const char* end = value.data() + value.size();
        auto [p, ec] = std::from_chars(value.data(), end, v);
        if (value.empty() || ec != std::errc() || p != end) return fmt::format("'{}' is not a number", value);
        if (v < lo || v > hi) return fmt::format("{} is outside {} to {}", value, lo, hi);
        return {};
      },
      fmt::format("{} to {}", lo, hi));
}

} // namespace kwh::cli
