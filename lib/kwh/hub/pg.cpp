#include <kwh/hub/pg.hpp>

#include <libpq-fe.h>

#include <dlfcn.h>
#include <poll.h>

#include <cerrno>
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
  decltype(&::PQsendQueryParams) PQsendQueryParams;
  decltype(&::PQsendQuery) PQsendQuery;
  decltype(&::PQgetResult) PQgetResult;
  decltype(&::PQisBusy) PQisBusy;
  decltype(&::PQconsumeInput) PQconsumeInput;
  decltype(&::PQflush) PQflush;
  decltype(&::PQsocket) PQsocket;
  decltype(&::PQsetnonblocking) PQsetnonblocking;
  decltype(&::PQconninfoParse) PQconninfoParse;
  decltype(&::PQconninfoFree) PQconninfoFree;
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
    get(a.PQsendQueryParams, "PQsendQueryParams");
    get(a.PQsendQuery, "PQsendQuery");
    get(a.PQgetResult, "PQgetResult");
    get(a.PQisBusy, "PQisBusy");
    get(a.PQconsumeInput, "PQconsumeInput");
    get(a.PQflush, "PQflush");
    get(a.PQsocket, "PQsocket");
    get(a.PQsetnonblocking, "PQsetnonblocking");
    get(a.PQconninfoParse, "PQconninfoParse");
    get(a.PQconninfoFree, "PQconninfoFree");
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

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t from = 0;
  for (;;) {
    auto comma = s.find(',', from);
    out.push_back(s.substr(from, comma == std::string::npos ? std::string::npos : comma - from));
    if (comma == std::string::npos) return out;
    from = comma + 1;
  }
}

// One connection attempt: our defaults, then the given keywords (later ones win, as in libpq).
pg_conn* connect_with(const std::vector<std::pair<std::string, std::string>>& options, bool expand) {
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : options) keys.push_back(k.c_str()), values.push_back(v.c_str());
  keys.push_back(nullptr), values.push_back(nullptr);
  return pq().PQconnectdbParams(keys.data(), values.data(), expand ? 1 : 0);
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
std::optional<std::int64_t> PgResult::opt_integer(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return integer(row, col);
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
  const std::vector<std::pair<std::string, std::string>> defaults = {
      {"connect_timeout", timeout}, {"application_name", "kwh"}, {"keepalives_idle", "10"},
      {"keepalives_interval", "5"}, {"keepalives_count", "3"}, {"tcp_user_timeout", "30000"}};
  auto options = defaults;
  options.emplace_back("dbname", url);
  pg_conn* conn = connect_with(options, true);
  if (!conn) fail(Exit::unavailable, "hub: out of memory connecting");
  std::string msg;
  if (pq().PQstatus(conn) != CONNECTION_OK) {
    msg = one_line(pq().PQerrorMessage(conn));
    pq().PQfinish(conn);
    conn = nullptr;
    // libpq gives up on a list of hosts when one accepts the connection and then drops it (a
    // proxy or port forward in front of a dead primary): then each host is tried on its own.
    char* err = nullptr;
    PQconninfoOption* parsed = pq().PQconninfoParse(url.c_str(), &err);
    if (err) std::free(err);
    std::vector<std::string> hosts, ports;
    std::vector<std::pair<std::string, std::string>> rest;
    for (auto* o = parsed; o && o->keyword; ++o) {
      if (!o->val) continue;
      const std::string key = o->keyword;
      if (key == "host") hosts = split_commas(o->val);
      else if (key == "port") ports = split_commas(o->val);
      else if (key != "hostaddr") rest.emplace_back(key, o->val);
    }
    if (parsed) pq().PQconninfoFree(parsed);
    for (std::size_t i = 0; hosts.size() > 1 && i < hosts.size() && !conn; ++i) {
      auto one = defaults;
      one.insert(one.end(), rest.begin(), rest.end());
      one.emplace_back("host", hosts[i]);
      if (!ports.empty()) one.emplace_back("port", ports.size() == hosts.size() ? ports[i] : ports.front());
      conn = connect_with(one, false);
      if (conn && pq().PQstatus(conn) != CONNECTION_OK) {
        msg += "; " + one_line(pq().PQerrorMessage(conn));
        pq().PQfinish(conn);
        conn = nullptr;
      }
    }
    if (!conn) fail(Exit::unavailable, "hub unreachable: {}", msg);
  }
  if (pq().PQsetnonblocking(conn, 1) != 0) {
    msg = one_line(pq().PQerrorMessage(conn));
    pq().PQfinish(conn);
    fail(Exit::unavailable, "hub: {}", msg);
  }
  return std::unique_ptr<PgConnection>(new PgConnection(conn));
}

PgConnection::~PgConnection() { pq().PQfinish(m_conn); }

bool PgConnection::ok() const { return !m_broken && pq().PQstatus(m_conn) == CONNECTION_OK; }

void PgConnection::wait_socket(short events, std::chrono::steady_clock::time_point deadline, std::string_view what) {
  using namespace std::chrono;
  for (;;) {
    if (m_interrupt && m_interrupt->load()) {
      m_broken = true;
      fail(Exit::unavailable, "hub: {} given up: stopping", what);
    }
    const auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) {
      // Not cancelled: a cancel request needs a connection of its own, which a black-holed
      // WAN would hold for minutes. The server rolls back when it sees this one closed.
      m_broken = true;
      fail(Exit::unavailable, "hub unreachable: no answer to {} within {} s", what,
           duration_cast<seconds>(m_timeout).count());
    }
    pollfd p{pq().PQsocket(m_conn), events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 200)));
    if (n > 0) return;
    if (n < 0 && errno != EINTR) {
      m_broken = true;
      fail(Exit::unavailable, "hub unreachable ({}): poll failed", what);
    }
  }
}

pg_result* PgConnection::await(std::string_view what) {
  const auto deadline = std::chrono::steady_clock::now() + m_timeout;
  for (;;) {
    const int f = pq().PQflush(m_conn);
    if (f == 0) break;
    if (f < 0) fail_with(nullptr, what);
    wait_socket(POLLOUT | POLLIN, deadline, what);
    if (!pq().PQconsumeInput(m_conn)) fail_with(nullptr, what);
  }
  pg_result* kept = nullptr;
  auto failed = [](pg_result* r) {
    const auto s = pq().PQresultStatus(r);
    return s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK;
  };
  try {
    for (;;) {
      while (pq().PQisBusy(m_conn)) {
        wait_socket(POLLIN, deadline, what);
        if (!pq().PQconsumeInput(m_conn)) fail_with(nullptr, what);
      }
      pg_result* r = pq().PQgetResult(m_conn);
      if (!r) break;
      if (kept && failed(kept)) {
        pq().PQclear(r);
        continue;
      }
      if (kept) pq().PQclear(kept);
      kept = r;
    }
  } catch (...) {
    if (kept) pq().PQclear(kept);
    throw;
  }
  return kept;
}

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
  auto first = text.substr(0, text.find_first_of("\n("));
  if (!pq().PQsendQueryParams(m_conn, text.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                              nullptr, 0))
    fail_with(nullptr, first);
  pg_result* res = await(first);
  const auto status = res ? pq().PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail_with(res, first);
  return PgResult(res);
}

void PgConnection::exec_script(const std::string& sql) {
  if (!pq().PQsendQuery(m_conn, sql.c_str())) fail_with(nullptr, "schema script");
  pg_result* res = await("schema script");
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
