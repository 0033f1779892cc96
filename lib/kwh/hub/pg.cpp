#include <kwh/hub/pg.hpp>

#include <libpq-fe.h>

#include <dlfcn.h>

#include <cstdlib>

namespace kwh::hub {

namespace {

// The functions of libpq kwh calls, from the library loaded on first use: linked, it would
// bring some twenty libraries (Kerberos, LDAP, GnuTLS) into every kwh command, a sale included,
// and double the time a command takes to start.
struct PqApi {
  decltype(&::PQconnectdbParams) PQconnectdbParams;
  decltype(&::PQstatus) PQstatus;
  decltype(&::PQerrorMessage) PQerrorMessage;
  decltype(&::PQfinish) PQfinish;
  decltype(&::PQhost) PQhost;
  decltype(&::PQport) PQport;
  decltype(&::PQexecParams) PQexecParams;
  decltype(&::PQexec) PQexec;
  decltype(&::PQresultStatus) PQresultStatus;
  decltype(&::PQresultErrorMessage) PQresultErrorMessage;
  decltype(&::PQresultErrorField) PQresultErrorField;
  decltype(&::PQclear) PQclear;
  decltype(&::PQntuples) PQntuples;
  decltype(&::PQgetisnull) PQgetisnull;
  decltype(&::PQgetvalue) PQgetvalue;
  decltype(&::PQgetlength) PQgetlength;
  decltype(&::PQcmdTuples) PQcmdTuples;
};

const PqApi& pq() {
  static const PqApi api = [] {
    void* lib = dlopen(KWH_LIBPQ_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* why = dlerror();
      fail(Exit::failed, "cannot reach the hub: {} (install libpq5)", why ? why : KWH_LIBPQ_SONAME);
    }
    PqApi a{};
    auto get = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      if (!fn) fail(Exit::failed, "cannot reach the hub: {} has no {}", KWH_LIBPQ_SONAME, name);
    };
    get(a.PQconnectdbParams, "PQconnectdbParams");
    get(a.PQstatus, "PQstatus");
    get(a.PQerrorMessage, "PQerrorMessage");
    get(a.PQfinish, "PQfinish");
    get(a.PQhost, "PQhost");
    get(a.PQport, "PQport");
    get(a.PQexecParams, "PQexecParams");
    get(a.PQexec, "PQexec");
    get(a.PQresultStatus, "PQresultStatus");
    get(a.PQresultErrorMessage, "PQresultErrorMessage");
    get(a.PQresultErrorField, "PQresultErrorField");
    get(a.PQclear, "PQclear");
    get(a.PQntuples, "PQntuples");
    get(a.PQgetisnull, "PQgetisnull");
    get(a.PQgetvalue, "PQgetvalue");
    get(a.PQgetlength, "PQgetlength");
    get(a.PQcmdTuples, "PQcmdTuples");
    return a;
  }();
  return api;
}

// libpq's messages end with a newline and may run over several lines: one line for ours.
std::string one_line(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (auto& c : s)
    if (c == '\n') c = ' ';
  return s;
}

} // namespace

PgResult::~PgResult() {
  if (m_res) pq().PQclear(m_res);
}
int PgResult::rows() const { return pq().PQntuples(m_res); }
bool PgResult::is_null(int row, int col) const { return pq().PQgetisnull(m_res, row, col) != 0; }
std::string PgResult::text(int row, int col) const {
  return std::string(pq().PQgetvalue(m_res, row, col), static_cast<std::size_t>(pq().PQgetlength(m_res, row, col)));
}
std::int64_t PgResult::integer(int row, int col) const {
  return std::strtoll(pq().PQgetvalue(m_res, row, col), nullptr, 10);
}
std::optional<std::string> PgResult::opt_text(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return text(row, col);
}
std::int64_t PgResult::affected() const {
  const char* n = pq().PQcmdTuples(m_res);
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

std::unique_ptr<PgConnection> PgConnection::connect(const std::string& url, int timeout_s) {
  // Our defaults first; the url (expanded as dbname) overrides them, as libpq takes the last
  // value of a repeated keyword.
  const std::string timeout = std::to_string(timeout_s);
  // Keepalives and a TCP user timeout, so that a WAN that drops packets fails a call within
  // about half a minute instead of TCP's quarter of an hour.
  const char* keys[] = {"connect_timeout", "application_name", "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "tcp_user_timeout", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), "kwh", "10", "5", "3", "30000", url.c_str(), nullptr};
  pg_conn* conn = pq().PQconnectdbParams(keys, values, 1);
  if (!conn) fail(Exit::unavailable, "hub: out of memory connecting");
  if (pq().PQstatus(conn) != CONNECTION_OK) {
    std::string msg = one_line(pq().PQerrorMessage(conn));
    pq().PQfinish(conn);
    fail(Exit::unavailable, "hub unreachable: {}", msg);
  }
  return std::unique_ptr<PgConnection>(new PgConnection(conn));
}

PgConnection::~PgConnection() { pq().PQfinish(m_conn); }

bool PgConnection::ok() const { return pq().PQstatus(m_conn) == CONNECTION_OK; }

std::string PgConnection::where() const {
  const char* host = pq().PQhost(m_conn);
  const char* port = pq().PQport(m_conn);
  return fmt::format("{}:{}", host ? host : "?", port ? port : "?");
}

void PgConnection::fail_with(pg_result* res, std::string_view what) {
  std::string msg = one_line(res ? pq().PQresultErrorMessage(res) : pq().PQerrorMessage(m_conn));
  if (msg.empty()) msg = one_line(pq().PQerrorMessage(m_conn));
  const char* state = res ? pq().PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state ? state : "";
  if (res) pq().PQclear(res);
  // Class 08 is a connection exception; a lost connection also shows as a bad status.
  const bool lost = !ok() || sqlstate.rfind("08", 0) == 0 || sqlstate == "57P01" || sqlstate == "57P02" ||
                    sqlstate == "57P03";
  if (lost) fail(Exit::unavailable, "hub unreachable ({}): {}", what, msg);
  fail(Exit::failed, "hub: {}: {}{}", what, msg, sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")");
}

PgResult PgConnection::exec(std::string_view sql, const PgParams& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  const std::string text(sql);
  pg_result* res = pq().PQexecParams(m_conn, text.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                nullptr, nullptr, 0);
  const auto status = res ? pq().PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    auto first = text.substr(0, text.find_first_of("\n("));
    fail_with(res, first);
  }
  return PgResult(res);
}

void PgConnection::exec_script(const std::string& sql) {
  pg_result* res = pq().PQexec(m_conn, sql.c_str());
  const auto status = res ? pq().PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail_with(res, "schema script");
  pq().PQclear(res);
}

PgTransaction::PgTransaction(PgConnection& conn) : m_conn(conn) { m_conn.exec("BEGIN"); }

PgTransaction::~PgTransaction() {
  if (m_done || !m_conn.ok()) return;
  try {
    m_conn.exec("ROLLBACK");
  } catch (...) {
  }
}

void PgTransaction::commit() {
  m_conn.exec("COMMIT");
  m_done = true;
}

} // namespace kwh::hub
