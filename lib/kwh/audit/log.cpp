#include <kwh/audit/log.hpp>

#include <kwh/util/error.hpp>
#include <kwh/crypto/sha256.hpp>

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <limits>

namespace kwh::audit {

namespace {

constexpr std::size_t k_hash_size = 32;

void put_field(std::string& out, const std::optional<std::string>& value) {
  out += '|';
  if (!value) {
    out += '-';
    return;
  }
  out += std::to_string(value->size());
  out += ':';
  out += *value;
}

std::string to_hex(const std::string& bytes) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(k_digits[c >> 4]);
    out.push_back(k_digits[c & 0x0f]);
  }
  return out;
}

constexpr const char* k_select = "SELECT id, time, operator, action, subject, command, detail, hash FROM audit";

StoredEntry read_entry(storage::Statement& st, std::string* raw_hash = nullptr) {
  StoredEntry e;
  e.id = st.get_int(0);
  e.entry.time = st.get_int(1);
  e.entry.operator_name = st.get_text(2);
  e.entry.action = st.get_text(3);
  e.entry.subject = st.get_opt_text(4);
  e.entry.command = st.get_opt_text(5);
  e.entry.detail = st.get_opt_text(6);
  std::string hash = st.get_blob(7);
  e.hash_hex = to_hex(hash);
  if (raw_hash) *raw_hash = std::move(hash);
  return e;
}

std::string describe(const StoredEntry& e) {
  return fmt::format("{} {} {} {}", e.id, format_time(e.entry.time), e.entry.operator_name, e.entry.action);
}

} // namespace

std::string canonical(std::int64_t id, const Entry& entry) {
  std::string out = "kwh-audit-1|";
  out += std::to_string(id);
  out += '|';
  out += std::to_string(entry.time);
  put_field(out, entry.operator_name);
  put_field(out, entry.action);
  put_field(out, entry.subject);
  put_field(out, entry.command);
  put_field(out, entry.detail);
  return out;
}

std::string chain_hash(const std::string& previous_hash, std::int64_t id, const Entry& entry) {
  Sha256 hasher;
  if (previous_hash.empty()) hasher.update(std::string(k_hash_size, '\0'));
  else hasher.update(previous_hash);
  hasher.update(canonical(id, entry));
  auto digest = hasher.finish();
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

std::int64_t append(storage::Database& db, const Entry& entry) {
  std::optional<storage::Transaction> own;
  if (sqlite3_get_autocommit(db.handle())) own.emplace(db);

  Entry e = entry;
  if (e.time == 0) e.time = now();
  std::int64_t id = 1;
  std::string previous;
  {
    auto st = db.prepare("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1");
    if (st.step()) {
      id = st.get_int(0) + 1;
      previous = st.get_blob(1);
    }
  }
  std::string hash = chain_hash(previous, id, e);
  db.prepare("INSERT INTO audit(id, time, operator, action, subject, command, detail, hash) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
      .bind_all(id, e.time, e.operator_name, e.action, e.subject, e.command, e.detail)
      .bind_blob(8, hash.data(), hash.size())
      .run();
  if (own) own->commit();
  return id;
}

std::vector<StoredEntry> list(storage::Database& db, std::optional<UnixTime> since) {
  std::vector<StoredEntry> out;
  auto st = db.prepare(std::string(k_select) + " WHERE time >= ?1 ORDER BY id");
  st.bind(1, since.value_or(std::numeric_limits<std::int64_t>::min()));
  while (st.step()) out.push_back(read_entry(st));
  return out;
}

std::optional<StoredEntry> head(storage::Database& db) {
  auto st = db.prepare(std::string(k_select) + " ORDER BY id DESC LIMIT 1");
  if (!st.step()) return std::nullopt;
  return read_entry(st);
}

std::vector<std::string> verify(storage::Database& db, std::optional<std::string> expect_head) {
  std::vector<std::string> findings;
  auto st = db.prepare(std::string(k_select) + " ORDER BY id");
  std::string previous;
  std::int64_t previous_id = 0;
  bool head_seen = false;
  while (st.step()) {
    std::string hash;
    StoredEntry e = read_entry(st, &hash);
    if (e.id != previous_id + 1) {
      findings.push_back(e.id == previous_id + 2
                             ? fmt::format("audit: entry {} is missing (removed)", previous_id + 1)
                             : fmt::format("audit: entries {} to {} are missing (removed)", previous_id + 1, e.id - 1));
    }
    if (hash.size() != k_hash_size) {
      findings.push_back(fmt::format("audit: entry {} has a damaged hash", describe(e)));
    } else if (chain_hash(previous, e.id, e.entry) != hash) {
      findings.push_back(fmt::format("audit: entry {} does not match its hash: it was altered, or an entry "
                                     "before it was removed or reordered",
                                     describe(e)));
    }
    if (expect_head && e.hash_hex == *expect_head) head_seen = true;
    // Go on from the stored hash, so that one altered entry gives one finding.
    previous = std::move(hash);
    previous_id = e.id;
  }
  if (expect_head && !head_seen)
    findings.push_back(fmt::format("audit: no entry has the expected head hash {}: the log was rewritten or "
                                   "cut before that point",
                                   *expect_head));
  return findings;
}

std::string command_line(int argc, const char* const* argv) {
  static constexpr std::string_view k_secret[] = {"--password", "--operator-code"};
  auto secret = [](std::string_view option) {
    return std::find(std::begin(k_secret), std::end(k_secret), option) != std::end(k_secret);
  };
  std::string s;
  bool hide_next = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i] ? argv[i] : "";
    if (i == 0) {
      auto slash = a.rfind('/');
      if (slash != std::string::npos) a = a.substr(slash + 1);
    } else if (hide_next) {
      a = "***";
      hide_next = false;
    } else if (auto eq = a.find('='); a.starts_with("--") && eq != std::string::npos && secret(std::string_view(a).substr(0, eq))) {
      a = a.substr(0, eq) + "=***";
    } else if (secret(a)) {
      hide_next = true;
    }
    if (i) s += ' ';
    const bool plain = !a.empty() && a.find_first_of(" \t\"'\\$`") == std::string::npos;
    s += plain ? a : "'" + a + "'";
  }
  return s;
}

} // namespace kwh::audit
