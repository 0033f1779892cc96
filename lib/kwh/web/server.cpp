#include <kwh/web/server.hpp>

#include <kwh/util/error.hpp>
#include <kwh/web/form.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace kwh::web {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

struct Shared {
  App& app;
  const ServerOptions& options;
  const std::function<void(std::string_view)>& log;
  std::atomic<int> connections{0};
  std::atomic<bool> stopping{false};
  std::mutex sessions_mutex;
  std::set<class Session*> sessions;
};

// The log's view of a path: a login link's token is a secret until it is used.
std::string loggable(std::string_view target) {
  std::string path(target.substr(0, target.find('?')));
  if (path.rfind("/l/", 0) == 0) path = "/l/...";
  for (char& c : path)
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f) c = '?';
  return path;
}

class Session : public std::enable_shared_from_this<Session> {
public:
  Session(tcp::socket socket, Shared& shared) : m_stream(std::move(socket)), m_shared(shared) {
    boost::system::error_code ec;
    auto ep = m_stream.socket().remote_endpoint(ec);
    m_peer = ec ? std::string("?") : ep.address().to_string();
    std::lock_guard lock(m_shared.sessions_mutex);
    m_shared.sessions.insert(this);
  }
  ~Session() {
    {
      std::lock_guard lock(m_shared.sessions_mutex);
      m_shared.sessions.erase(this);
    }
    --m_shared.connections;
  }

  void start() {
    net::dispatch(m_stream.get_executor(), [self = shared_from_this()] { self->read(); });
  }

  // On the way out: an idle connection closes now; a busy one after its response.
  void stop() {
    net::post(m_stream.get_executor(), [self = shared_from_this()] {
      if (!self->m_busy) {
        boost::system::error_code ec;
        self->m_stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        self->m_stream.close();
      }
    });
  }

private:
  void read() {
    if (m_shared.stopping) return close();
    m_parser.emplace();
    m_parser->body_limit(m_shared.options.max_body);
    m_parser->header_limit(static_cast<std::uint32_t>(m_shared.options.max_header));
    m_stream.expires_after(m_shared.options.idle_timeout);
    http::async_read(m_stream, m_buffer, *m_parser,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      return refuse(ec == http::error::body_limit ? http::status::payload_too_large
                                                  : http::status::request_header_fields_too_large);
    }
    if (ec) return close(); // end of stream, timeout, reset or a request that is not HTTP
    m_busy = true;
    const auto started = std::chrono::steady_clock::now();
    auto& req = m_parser->get();
    Request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.client = client_address(m_peer, std::string(req["X-Forwarded-For"]), m_shared.options.forwarded_for);
    r.cookie = std::string(req[http::field::cookie]);
    r.origin = std::string(req[http::field::origin]);
    r.content_type = std::string(req[http::field::content_type]);
    r.signature = std::string(req["Kwh-Signature"]);
    r.body = std::move(req.body());
    Response out = m_shared.app.handle(r, kwh::now());

    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(out.status), req.version());
    for (auto& [name, value] : out.headers) res->insert(name, value);
    const bool head = req.method() == http::verb::head;
    const std::size_t bytes = out.body.size();
    res->body() = head ? std::string() : std::move(out.body);
    res->keep_alive(req.keep_alive() && !m_shared.stopping);
    if (head) res->content_length(bytes);
    else res->prepare_payload();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    m_shared.log(fmt::format("{} {} {} {} {} {}ms", r.client, r.method, loggable(r.target), out.status, bytes, ms.count()));
    write(std::move(res));
  }

  void refuse(http::status status) {
    m_busy = true;
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::content_type, "text/plain");
    res->body() = status == http::status::payload_too_large ? "request body too large\n" : "request headers too large\n";
    res->keep_alive(false);
    res->prepare_payload();
    m_shared.log(fmt::format("{} - - {} 0 0ms", m_peer, static_cast<int>(status)));
    write(std::move(res));
  }

  void write(std::shared_ptr<http::response<http::string_body>> res) {
    m_stream.expires_after(m_shared.options.idle_timeout);
    http::async_write(m_stream, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      self->m_busy = false;
      if (ec || !res->keep_alive()) return self->close();
      self->read();
    });
  }

  void close() {
    beast::error_code ec;
    m_stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    m_stream.close();
  }

  beast::tcp_stream m_stream;
  beast::flat_buffer m_buffer;
  std::optional<http::request_parser<http::string_body>> m_parser;
  Shared& m_shared;
  std::string m_peer;
  bool m_busy = false;
};

tcp::endpoint parse_listen(net::io_context& ioc, const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size())
    fail(Exit::config, "listen address '{}' is not host:port", listen);
  std::string host = listen.substr(0, colon);
  const std::string port = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) fail(Exit::config, "listen address '{}': {}", listen, ec ? ec.message() : "not found");
  return results.begin()->endpoint();
}

class Listener : public std::enable_shared_from_this<Listener> {
public:
  Listener(net::io_context& ioc, tcp::endpoint ep, Shared& shared) : m_ioc(ioc), m_acceptor(ioc), m_shared(shared) {
    boost::system::error_code ec;
    m_acceptor.open(ep.protocol(), ec);
    if (!ec) m_acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) m_acceptor.bind(ep, ec);
    if (!ec) m_acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) fail(Exit::unavailable, "cannot listen on {}: {}", ep.address().to_string() + ":" + std::to_string(ep.port()), ec.message());
  }

  std::string bound() const {
    auto ep = m_acceptor.local_endpoint();
    const auto a = ep.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
  }

  void accept() {
    m_acceptor.async_accept(net::make_strand(m_ioc), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec == net::error::operation_aborted || !self->m_acceptor.is_open()) return;
      if (!ec) self->admit(std::move(s));
      self->accept();
    });
  }

  void close() {
    net::post(m_acceptor.get_executor(), [self = shared_from_this()] {
      boost::system::error_code ec;
      self->m_acceptor.close(ec);
    });
  }

private:
  void admit(tcp::socket s) {
    if (++m_shared.connections > m_shared.options.max_connections) {
      --m_shared.connections;
      // Over the limit: a short answer and the door, rather than a queue that grows.
      auto sock = std::make_shared<tcp::socket>(std::move(s));
      static const std::string k_busy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n";
      net::async_write(*sock, net::buffer(k_busy), [sock](beast::error_code, std::size_t) {
        boost::system::error_code ec;
        sock->shutdown(tcp::socket::shutdown_both, ec);
        sock->close(ec);
      });
      return;
    }
    std::make_shared<Session>(std::move(s), m_shared)->start();
  }

  net::io_context& m_ioc;
  tcp::acceptor m_acceptor;
  Shared& m_shared;
};

} // namespace

void run_server(App& app, const ServerOptions& options, const std::function<void(std::string_view)>& log,
                const std::function<void(const std::string&)>& listening) {
  net::io_context ioc(options.threads);
  Shared shared{app, options, log};
  auto listener = std::make_shared<Listener>(ioc, parse_listen(ioc, options.listen), shared);
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code ec, int) {
    if (ec) return;
    shared.stopping = true;
    listener->close();
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard lock(shared.sessions_mutex);
      for (Session* s : shared.sessions) {
        // A session being destroyed has no owner left; the others are kept alive while stopped.
        if (auto p = s->weak_from_this().lock()) live.push_back(std::move(p));
      }
    }
    for (auto& s : live) s->stop();
  });
  listener->accept();
  listening(listener->bound());
  std::vector<std::thread> threads;
  for (int i = 1; i < options.threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : threads) t.join();
}

} // namespace kwh::web
