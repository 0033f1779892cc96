#include <kwh/storage/database.hpp>

#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>
#include <mutex>
#include <thread>

#include <filesystem>

namespace kwh::storage {

namespace {
constexpr int k_busy_timeout_ms = 5000;
}

Statement::Statement(Database& db, sqlite3_stmt* stmt, bool owned) : m_db(&db), m_stmt(stmt), m_owned(owned) {}

Statement::Statement(Statement&& o) noexcept : m_db(o.m_db), m_stmt(o.m_stmt), m_owned(o.m_owned) {
  o.m_stmt = nullptr;
}

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    if (m_stmt && m_owned) sqlite3_finalize(m_stmt);
    m_db = o.m_db;
    m_stmt = o.m_stmt;
    m_owned = o.m_owned;
    o.m_stmt = nullptr;
  }
  return *this;
}

Statement::~Statement() {
  if (m_stmt && m_owned) sqlite3_finalize(m_stmt);
}

#define KWH_BIND_CHECK(call)                                                                                 \
  do {                                                                                                       \
    int rc_ = (call);                                                                                        \
    if (rc_ != SQLITE_OK) m_db->throw_error(rc_, "bind");                                                    \
  } while (0)

Statement& Statement::bind(int i, std::int64_t v) {
  KWH_BIND_CHECK(sqlite3_bind_int64(m_stmt, i, v));
  return *this;
}
Statement& Statement::bind(int i, double v) {
  KWH_BIND_CHECK(sqlite3_bind_double(m_stmt, i, v));
  return *this;
}
Statement& Statement::bind(int i, std::string_view v) {
  KWH_BIND_CHECK(sqlite3_bind_text(m_stmt, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  return *this;
}
Statement& Statement::bind_blob(int i, const void* data, std::size_t size) {
  KWH_BIND_CHECK(sqlite3_bind_blob(m_stmt, i, data, static_cast<int>(size), SQLITE_TRANSIENT));
  return *this;
}
Statement& Statement::bind_null(int i) {
  KWH_BIND_CHECK(sqlite3_bind_null(m_stmt, i));
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(m_stmt);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string sql = sqlite3_sql(m_stmt) ? sqlite3_sql(m_stmt) : "";
  sqlite3_reset(m_stmt);
  m_db->throw_error(rc, sql);
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(m_stmt);
  sqlite3_clear_bindings(m_stmt);
}

bool Statement::is_null(int c) const { return sqlite3_column_type(m_stmt, c) == SQLITE_NULL; }
std::int64_t Statement::get_int(int c) const { return sqlite3_column_int64(m_stmt, c); }
double Statement::get_double(int c) const { return sqlite3_column_double(m_stmt, c); }
std::string Statement::get_text(int c) const {
  auto p = sqlite3_column_text(m_stmt, c);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, c)))
           : std::string();
}
std::string Statement::get_blob(int c) const {
  auto p = static_cast<const char*>(sqlite3_column_blob(m_stmt, c));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, c))) : std::string();
}
std::optional<std::int64_t> Statement::get_opt_int(int c) const {
  return is_null(c) ? std::nullopt : std::optional(get_int(c));
}
std::optional<double> Statement::get_opt_double(int c) const {
  return is_null(c) ? std::nullopt : std::optional(get_double(c));
}
std::optional<std::string> Statement::get_opt_text(int c) const {
  return is_null(c) ? std::nullopt : std::optional(get_text(c));
}

Database::Database(sqlite3* db, std::string path) : m_db(db), m_path(std::move(path)) {}

Database::~Database() {
  m_cache.clear();
  sqlite3_close_v2(m_db);
}

namespace {

// SQLite keeps memory statistics by default, taking a process-wide mutex for every allocation
// it makes (a twentieth of kwhd's write path); kwh never reads them. Set before SQLite starts.
void configure_sqlite() {
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_initialize();
  });
}

} // namespace

std::unique_ptr<Database> Database::open(const std::string& path, OpenMode mode) {
  configure_sqlite();
  namespace fs = std::filesystem;
  std::error_code ec;
  bool exists = fs::exists(path, ec);
  if (!exists && mode != OpenMode::create)
    fail(Exit::no_input, "no database at {} (create it with 'kwh init', or name another with --db or KWH_DB)",
         path);
  if (exists && fs::is_directory(path, ec)) fail(Exit::failed, "cannot open database {}: it is a directory", path);
  // Operators, roles and the audit log mean nothing in a file that anyone may write.
  if (exists && (fs::status(path, ec).permissions() & fs::perms::others_write) != fs::perms::none)
    fail(Exit::failed, "{} is world-writable; fix with chmod o-w {}", path, path);

  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  flags |= mode == OpenMode::read_only ? SQLITE_OPEN_READONLY
                                       : (SQLITE_OPEN_READWRITE | (mode == OpenMode::create ? SQLITE_OPEN_CREATE : 0));
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    fail(Exit::failed, "cannot {} database {}: {}", exists ? "open" : "create", path, msg);
  }
  std::unique_ptr<Database> db(new Database(raw, path));
  db->set_busy_timeout(k_busy_timeout_ms);
  try {
    // WAL lets readers (reports) run while kwhd writes. synchronous = FULL makes every committed
    // transaction, money above all, survive power loss.
    // A new database returns the pages that pruning frees to the file system in bounded steps
    // (PRAGMA incremental_vacuum); this is chosen before anything is written, WAL included.
    if (!exists && mode == OpenMode::create) db->exec("PRAGMA auto_vacuum = INCREMENTAL");
    if (mode != OpenMode::read_only) {
      db->exec("PRAGMA journal_mode = WAL");
      db->exec("PRAGMA synchronous = FULL");
    }
    db->exec("PRAGMA foreign_keys = ON");
    // Touch the schema so that a file that is not a database fails here, with its name.
    db->user_version();
  } catch (const Error& e) {
    fail(e.code() == Exit::temporary ? Exit::temporary : Exit::failed, "cannot open database {}: {}", path,
         e.what());
  }
  return db;
}

Statement Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(m_db, sql.data(), static_cast<int>(sql.size()), 0, &stmt, nullptr);
  if (rc != SQLITE_OK) throw_error(rc, sql);
  return Statement(*this, stmt, true);
}

Statement& Database::cached(std::string_view sql) {
  auto it = m_cache.find(sql);
  if (it == m_cache.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(m_db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                                nullptr);
    if (rc != SQLITE_OK) throw_error(rc, sql);
    it = m_cache.emplace(std::string(sql), Statement(*this, stmt, true)).first;
  }
  it->second.reset();
  return it->second;
}

void Database::exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &err);
  if (err) sqlite3_free(err);
  if (rc != SQLITE_OK) throw_error(rc, sql);
}

std::int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(m_db); }
int Database::changes() const { return sqlite3_changes(m_db); }
std::int64_t Database::total_changes() const { return sqlite3_total_changes64(m_db); }

int Database::user_version() {
  auto st = prepare("PRAGMA user_version");
  st.step();
  return static_cast<int>(st.get_int(0));
}

// SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50 ... ms between tries: a
// sale that finds the write lock taken four times has slept 18 ms, though each holder keeps it
// a few. Trying again every quarter of a millisecond takes the lock as soon as it is free.
int Database::busy_handler(void* self, int tries) {
  auto* db = static_cast<Database*>(self);
  using Clock = std::chrono::steady_clock;
  const auto now = Clock::now();
  if (tries == 0) db->m_busy_since = now;
  if (now - db->m_busy_since >= std::chrono::milliseconds(db->m_busy_timeout_ms)) return 0;
  std::this_thread::sleep_for(std::chrono::microseconds(250));
  return 1;
}

void Database::set_busy_timeout(int ms) {
  m_busy_timeout_ms = ms;
  sqlite3_busy_handler(m_db, ms > 0 ? &Database::busy_handler : nullptr, this);
}

void Database::throw_error(int rc, std::string_view what) {
  int primary = rc & 0xff;
  std::string msg = sqlite3_errmsg(m_db);
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
    fail(Exit::temporary, "database {} is busy; try again ({})", m_path, msg);
  if (primary == SQLITE_READONLY || primary == SQLITE_CANTOPEN || primary == SQLITE_PERM)
    fail(Exit::failed, "cannot write database {}: {}", m_path, msg);
  if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT)
    fail(Exit::failed, "{} is not a kwh database or is damaged: {}", m_path, msg);
  if (primary == SQLITE_CONSTRAINT) fail(Exit::data, "{}", msg);
  fail(Exit::failed, "database error: {} (in: {})", msg, what.substr(0, 80));
}

void Database::add_deferred(Deferred* d) { m_deferred.push_back(d); }

void Database::remove_deferred(Deferred* d) { std::erase(m_deferred, d); }

void Database::flush_deferred() {
  for (auto* d : m_deferred) d->flush();
}

void Database::discard_deferred() {
  for (auto* d : m_deferred) d->discard();
}

Transaction::Transaction(Database& db) : m_db(db) {
  m_db.exec("BEGIN IMMEDIATE");
  ++m_db.m_begun;
}

Transaction::~Transaction() {
  if (!m_done) {
    ++m_db.m_rollbacks;
    try {
      m_db.exec("ROLLBACK");
    } catch (...) {
      // Nothing more to do: the connection rolls back on close.
    }
    m_db.discard_deferred();
  }
}

void Transaction::commit() {
  m_db.flush_deferred();
  m_db.exec("COMMIT");
  m_done = true;
}

Savepoint::Savepoint(Database& db, std::string name) : m_db(db), m_name(std::move(name)) {
  m_db.flush_deferred();
  m_db.cached("SAVEPOINT " + m_name).run();
}

Savepoint::~Savepoint() {
  if (m_done) return;
  ++m_db.m_rollbacks;
  try {
    m_db.cached("ROLLBACK TO " + m_name).run();
    m_db.cached("RELEASE " + m_name).run();
  } catch (...) {
    // The enclosing transaction is rolled back by its owner.
  }
  m_db.discard_deferred();
}

void Savepoint::release() {
  m_db.cached("RELEASE " + m_name).run();
  m_done = true;
}

} // namespace kwh::storage
