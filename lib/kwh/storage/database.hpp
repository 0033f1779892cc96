#pragma once
// The SQLite database: one file, WAL mode, foreign keys on, a busy timeout, prepared statements
// only. Writes go through Transaction, which starts with BEGIN IMMEDIATE so that a writer waits
// for the lock up front (within the busy timeout) instead of failing half-way through.

#include <kwh/util/error.hpp>

#include <chrono>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace kwh::storage {

class Database;

// Something that keeps writes in memory while a transaction is open (billing::Biller keeps the
// balances, accumulators and rollups a reading changes) and must write them before the
// transaction commits. The Database calls flush() before COMMIT and before a SAVEPOINT (so that
// what a savepoint rolls back is only what was done inside it), and discard() after a ROLLBACK
// of either, when what was pending never happened.
class Deferred {
public:
  virtual void flush() = 0;
  virtual void discard() = 0;

protected:
  ~Deferred() = default;
};

// A prepared statement. Binding is 1-based as in SQLite; columns are 0-based.
class Statement {
public:
  Statement() = default;
  Statement(Database& db, sqlite3_stmt* stmt, bool owned);
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Statement& bind_blob(int index, const void* data, std::size_t size);
  Statement& bind_null(int index);
  template <typename T> Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind_null(index);
  }
  // Binds all arguments from index 1 on.
  template <typename... Args> Statement& bind_all(const Args&... args) {
    int i = 0;
    (bind(++i, args), ...);
    return *this;
  }

  // Steps once: true when a row is ready, false when done. Errors throw kwh::Error.
  bool step();
  // Steps to completion, for statements that return no rows.
  void run();
  void reset();

  bool is_null(int col) const;
  std::int64_t get_int(int col) const;
  double get_double(int col) const;
  std::string get_text(int col) const;
  std::string get_blob(int col) const;
  std::optional<std::int64_t> get_opt_int(int col) const;
  std::optional<double> get_opt_double(int col) const;
  std::optional<std::string> get_opt_text(int col) const;

private:
  Database* m_db = nullptr;
  sqlite3_stmt* m_stmt = nullptr;
  bool m_owned = true;
};

enum class OpenMode {
  existing,  // the file must exist (every command but init)
  create,    // create it (and nothing else) when missing
  read_only, // for reports and checks that must not write
};

class Database {
public:
  // Throws Error: no_input when the file is missing (with a hint to run kwh init), failed with
  // one clear line when it cannot be opened or created.
  static std::unique_ptr<Database> open(const std::string& path, OpenMode mode = OpenMode::existing);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // A fresh statement, finalised when it goes out of scope.
  Statement prepare(std::string_view sql);
  // A statement kept for the life of the connection, reset on each use: for hot paths.
  Statement& cached(std::string_view sql);
  // Runs SQL without parameters (schema, pragmas).
  void exec(const std::string& sql);

  std::int64_t last_insert_rowid() const;
  int changes() const;
  const std::string& path() const { return m_path; }
  sqlite3* handle() { return m_db; }

  int user_version();
  void set_busy_timeout(int ms);

  // For caches over this connection (billing::Biller): how many Transactions began on it, how
  // many transactions or savepoints were rolled back, and how many rows it changed in all.
  std::uint64_t transactions_begun() const { return m_begun; }
  std::uint64_t rollbacks() const { return m_rollbacks; }
  std::int64_t total_changes() const;

  // Writers with pending writes (see Deferred); each registers itself for its lifetime.
  void add_deferred(Deferred* d);
  void remove_deferred(Deferred* d);
  // Writes what every Deferred holds, in the open transaction.
  void flush_deferred();

  // Turns the connection's last error into kwh::Error with the right exit code (75 for busy).
  [[noreturn]] void throw_error(int rc, std::string_view what);

private:
  Database(sqlite3* db, std::string path);
  static int busy_handler(void* self, int tries);
  sqlite3* m_db;
  int m_busy_timeout_ms = 0;
  std::chrono::steady_clock::time_point m_busy_since{};
  std::string m_path;
  std::map<std::string, Statement, std::less<>> m_cache;
  std::uint64_t m_begun = 0, m_rollbacks = 0;
  std::vector<Deferred*> m_deferred;
  void discard_deferred();
  friend class Transaction;
  friend class Savepoint;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless committed.
class Transaction {
public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

private:
  Database& m_db;
  bool m_done = false;
};

// SAVEPOINT inside a transaction; on destruction, unless released, ROLLBACK TO it (and RELEASE).
class Savepoint {
public:
  Savepoint(Database& db, std::string name);
  ~Savepoint();
  Savepoint(const Savepoint&) = delete;
  Savepoint& operator=(const Savepoint&) = delete;
  void release();

private:
  Database& m_db;
  std::string m_name;
  bool m_done = false;
};

// Code that some migrations need besides their SQL, by the version they make (for version 4,
// moving version 3's readings into blocks: readings::adopt_rows). It runs in the migration's
// transaction, after its SQL.
using MigrationSteps = std::map<int, std::function<void(Database&)>>;

// Creates or upgrades the schema; each numbered migration runs in its own transaction and sets
// PRAGMA user_version. Returns the number of migrations applied. `target`: stop at that
// version (tests of an upgrade). (A new database gets auto_vacuum = incremental from open().)
int migrate(Database& db, std::optional<int> target = std::nullopt, const MigrationSteps& steps = {});
int schema_version_latest();

// The decimals of money are fixed when `kwh init` makes the database (settings 'minor_units'):
// every stored amount is in those minor units. Error(config) when the configuration names
// other decimals, which would change the meaning of every amount; nothing when the database
// records none (made before it did).
void check_minor_units(Database& db, int configured);

} // namespace kwh::storage
