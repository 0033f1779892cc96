// kwh serve: the tenants' pages and the payment webhooks over HTTP (kwh-serve(1)). Wiring
// only: the requests are kwh::web::App, the sockets kwh::web::run_server.

#include "context.hpp"

#include <kwh/web/app.hpp>
#include <kwh/web/link.hpp>
#include <kwh/web/server.hpp>

#include <iostream>
#include <mutex>
#include <unistd.h>

namespace kwh::cli {

namespace {

struct ServeArgs {
  std::optional<std::string> listen, base_url;
  bool insecure_cookies = false;
};

int run_serve(Context& ctx, const ServeArgs& a) {
  if (::geteuid() == 0)
    fail(Exit::no_perm, "kwh serve refuses to run as root; run it as the kwh user (kwh-serve.service does)");
  const config::Config& cfg = ctx.config();
  web::ServerOptions so;
  so.listen = a.listen.value_or(cfg.serve.listen);
  so.threads = cfg.serve.threads;
  so.max_connections = cfg.serve.max_connections;
  so.max_body = static_cast<std::size_t>(cfg.serve.max_body);
  so.idle_timeout = cfg.serve.idle_timeout;
  so.forwarded_for = cfg.serve.forwarded_for;

  const std::string db_path = ctx.database_path();
  ctx.db(); // the database exists and has the current schema, or this says what to do
  web::AppOptions ao;
  ao.insecure_cookies = a.insecure_cookies;
  ao.base_url = a.base_url.value_or(cfg.serve.base_url);
  const bool derived_base = ao.base_url.empty();
  if (derived_base) ao.base_url = "http://127.0.0.1"; // until the socket is bound: then http://ADDRESS:PORT
  auto app = web::App(cfg, db_path, web::load_or_create_secret(config::resolve_secret_path(cfg, db_path), db_path), ao);

  std::mutex log_mutex;
  auto log = [&](std::string_view line) {
    std::lock_guard lock(log_mutex);
    std::cerr << line << '\n';
  };
  web::run_server(app, so, log, [&](const std::string& bound) {
    // Port 0: the base URL follows the port the system picked.
    if (derived_base) app.set_base_url("http://" + bound);
    // One line, flushed, so that scripts and tests can wait for it (and read the port).
    std::cout << "kwh serve: listening on " << bound << ", base URL " << app.base_url()
              << (a.insecure_cookies ? " (insecure cookies: for plain HTTP testing only)" : "") << std::endl;
  });
  return 0;
}

} // namespace

void add_serve(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<ServeArgs>();
  auto* sub = app.add_subcommand("serve", "serve the tenants' pages and payment webhooks over HTTP");
  sub->add_option("--listen", a->listen, "address to listen on (default [serve] listen, 127.0.0.1:8080)")
      ->type_name("HOST:PORT");
  sub->add_option("--base-url", a->base_url, "the public URL, e.g. https://pay.example.com (default [serve] base_url)")
      ->type_name("URL");
  sub->add_flag("--insecure-cookies", a->insecure_cookies,
                "cookies without Secure and the __Host- prefix, for plain HTTP on loopback while testing");
  sub->callback([&ctx, a] { ctx.action = [&ctx, a] { return run_serve(ctx, *a); }; });
}

} // namespace kwh::cli
