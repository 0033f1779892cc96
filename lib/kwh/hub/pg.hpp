#pragma once
// A thin wrapper over libpq for the hub: one connection, statements with parameters only
// (PQexecParams, text format), results freed by their owner. Errors are kwh::Error: 69
// (unavailable) when the connection is lost or cannot be made, 1 otherwise, with the server's
// message and SQLSTATE.

#include <kwh/util/error.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct pg_conn;
struct pg_result;

namespace kwh::hub {

class PgResult {
public:
  explicit PgResult(pg_result* res) : m_res(res) {}
  PgResult(PgResult&& other) noexcept : m_res(other.m_res) { other.m_res = nullptr; }
  PgResult& operator=(PgResult&&) = delete;
  PgResult(const PgResult&) = delete;
  ~PgResult();

  int rows() const;
  bool is_null(int row, int col) const;
  std::string text(int row, int col) const;
  std::int64_t integer(int row, int col) const;
  std::optional<std::string> opt_text(int row, int col) const;
  std::optional<std::int64_t> opt_integer(int row, int col) const;
  // Rows an INSERT, UPDATE or DELETE touched.
  std::int64_t affected() const;

private:
  pg_result* m_res;
};

using PgParams = std::vector<std::optional<std::string>>;

class PgConnection {
public:
  // Connects to `url` (a libpq connection string or URI; several hosts are tried as libpq
  // does). `timeout_s`: libpq's connect_timeout unless the url names one.
  static std::unique_ptr<PgConnection> connect(const std::string& url, int timeout_s = 10);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // One statement with $1.. parameters (NULL for nullopt). Every call waits at most timeout()
  // for the hub's answer: a hub that accepts and never answers (a stopped proxy, a lock, a
  // primary whose synchronous standby is gone) fails it with Exit::unavailable and leaves the
  // connection broken (ok() false), as does the interrupt flag when it is set.
  PgResult exec(std::string_view sql, const PgParams& params = {});
  // A fixed script of several statements without parameters (the hub's schema files).
  void exec_script(const std::string& sql);
  bool ok() const;
  void set_timeout(std::chrono::milliseconds t) { m_timeout = t; }
  std::chrono::milliseconds timeout() const { return m_timeout; }
  // A flag another thread sets to make a call in progress give up within a fifth of a second.
  void set_interrupt(const std::atomic<bool>* flag) { m_interrupt = flag; }
  // The host and port it is connected to, for log lines.
  std::string where() const;

private:
  explicit PgConnection(pg_conn* conn) : m_conn(conn) {}
  [[noreturn]] void fail_with(pg_result* res, std::string_view what);
  // Sends what PQsend* queued and collects the results: the first failed one, else the last.
  pg_result* await(std::string_view what);
  void wait_socket(short events, std::chrono::steady_clock::time_point deadline, std::string_view what);
  pg_conn* m_conn;
  bool m_broken = false;
  std::chrono::milliseconds m_timeout{30'000};
  const std::atomic<bool>* m_interrupt = nullptr;
};

// A transaction on a connection: BEGIN now, ROLLBACK when it goes without commit().
class PgTransaction {
public:
  explicit PgTransaction(PgConnection& conn);
  ~PgTransaction();
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;
  void commit();

private:
  PgConnection& m_conn;
  bool m_done = false;
};

} // namespace kwh::hub
