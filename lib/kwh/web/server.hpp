#pragma once
// kwh serve's HTTP/1.1 server on Boost.Beast: a bounded number of keep-alive connections, a
// request size limit and an idle timeout, several threads, and a graceful stop on SIGTERM or
// SIGINT (requests in flight finish; idle connections close). What each request means is
// App's business (app.hpp).

#include <kwh/web/app.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace kwh::web {

struct ServerOptions {
  std::string listen = "127.0.0.1:8080"; // host:port, [v6]:port; port 0 picks a free one
  int threads = 2;
  int max_connections = 256;
  std::size_t max_body = 65536;
  std::size_t max_header = 8192;
  std::chrono::milliseconds idle_timeout{30'000};
  bool forwarded_for = false;
};

// Serves until SIGTERM or SIGINT. `log` gets one line per request (no secrets); `listening`
// gets the bound address once the socket listens. Exit::unavailable when the address cannot
// be bound, Exit::config when it is not host:port.
void run_server(App& app, const ServerOptions& options, const std::function<void(std::string_view)>& log,
                const std::function<void(const std::string&)>& listening);

} // namespace kwh::web
