#pragma once
// kwh serve's requests and responses, apart from sockets: server.cpp parses HTTP with
// Boost.Beast and hands each request here. Everything a tenant or a payment provider can do is
// decided in App::handle, which is safe to call from several threads at once (each call takes
// a database connection of its own from a small pool).

#include <kwh/config/config.hpp>
#include <kwh/util/time.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace kwh::storage {
class Database;
}

namespace kwh::web {

struct Request {
  std::string method; // GET, POST, ...
  std::string target; // path and query as sent
  std::string client; // the address rate limits and the log use
  std::string cookie, origin, content_type, signature;
  std::string body;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  void header(std::string name, std::string value) { headers.emplace_back(std::move(name), std::move(value)); }
};

// Tokens a second per address, refilled continuously up to a burst. Thread-safe.
class RateLimit {
public:
  RateLimit(double per_minute, double burst) : m_rate(per_minute / 60.0), m_burst(burst) {}
  // 0 when allowed (and counted), else the seconds to wait before the next one is.
  int take(const std::string& client, std::chrono::steady_clock::time_point now);

private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  double m_rate, m_burst;
  std::mutex m_mutex;
  std::map<std::string, Bucket> m_buckets;
};

struct AppOptions {
  std::string base_url;      // as links and the Origin check use it, without a trailing '/'
  bool insecure_cookies = false;
};

class App {
public:
  // Reads every provider's secret now: Exit::config when one cannot be read or is empty.
  App(config::Config cfg, std::string database_path, std::string key, AppOptions options);
  ~App();

  Response handle(const Request& request, UnixTime now);

  const std::string& cookie_name() const { return m_cookie; }
  const std::string& base_url() const { return m_opt.base_url; }
  // For a listen port the system picked: before the server's threads start.
  void set_base_url(std::string base_url);

private:
  struct Lease;
  std::unique_ptr<storage::Database> acquire();
  void release(std::unique_ptr<storage::Database> db);

  Response route(const Request& r, storage::Database& db, UnixTime now);
  Response page_response(int status, std::string html) const;
  Response message(int status, std::string_view title, std::string_view text) const;
  Response json(int status, std::string body) const;
  Response redirect(std::string location) const;
  bool same_origin(const Request& r) const;

  Response link_get(storage::Database& db, std::string_view token, UnixTime now);
  Response link_post(const Request& r, storage::Database& db, std::string_view token, UnixTime now);
  Response tenant(const Request& r, storage::Database& db, UnixTime now);
  Response tenant_api(const Request& r, storage::Database& db, UnixTime now);
  Response receipt(const Request& r, storage::Database& db, std::string_view number, UnixTime now);
  Response tenant_post(const Request& r, storage::Database& db, std::string_view action, UnixTime now);
  Response webhook(const Request& r, storage::Database& db, std::string_view provider, UnixTime now);

  config::Config m_cfg;
  std::string m_db_path;
  std::string m_key;
  AppOptions m_opt;
  std::string m_cookie;
  std::string m_origin;
  std::string m_csp;
  std::map<std::string, std::pair<config::Provider, std::string>> m_providers; // name -> (config, secret)
  RateLimit m_link_limit;
  RateLimit m_webhook_limit;
  std::mutex m_pool_mutex;
  std::vector<std::unique_ptr<storage::Database>> m_pool;
};

} // namespace kwh::web
