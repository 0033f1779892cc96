#pragma once
// A scripted Modbus device on a loopback socket, in the test's own io_context, for the
// transport tests: it frames requests (MBAP or RTU), asks the script what to do with each, and
// answers after a delay, sends raw bytes, says nothing, or hangs up.

#include <kwh/transport/frame.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

namespace kwh::test {

namespace asio = boost::asio;

struct PeerAction {
  std::vector<std::uint8_t> bytes; // sent as they are (already framed)
  std::chrono::milliseconds delay{0};
  bool hang_up = false;            // close the connection instead (after the delay)
};

struct SeenRequest {
  transport::Request req;
  std::uint16_t transaction = 0;
  std::chrono::steady_clock::time_point at;
};

class FakePeer {
public:
  // Gets each request (and its MBAP transaction id) and returns what to do.
  using Script = std::function<std::vector<PeerAction>(const SeenRequest&, int index)>;

  FakePeer(asio::io_context& io, bool rtu, Script script)
      : m_io(io), m_acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), m_rtu(rtu),
        m_script(std::move(script)) {
    accept();
  }

  std::uint16_t port() const { return m_acceptor.local_endpoint().port(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port()); }
  const std::vector<SeenRequest>& seen() const { return m_seen; }
  int connections() const { return m_connections; }
  void stop() {
    boost::system::error_code ec;
    m_acceptor.close(ec);
    for (auto& c : m_conns) c->socket.close(ec);
  }

  // The usual correct answer to a request, framed for this peer; words are address + i.
  std::vector<std::uint8_t> answer(const SeenRequest& s, std::uint16_t base = 0) const {
    transport::Response r;
    for (std::uint16_t i = 0; i < s.req.count; ++i) {
      r.words.push_back(static_cast<std::uint16_t>(base + s.req.address + i));
      r.bits.push_back(i % 2 == 0);
    }
    return frame(s, transport::encode_response_pdu(s.req, r));
  }
  std::vector<std::uint8_t> frame(const SeenRequest& s, const std::vector<std::uint8_t>& pdu) const {
    return m_rtu ? transport::wrap_rtu(s.req.unit, pdu) : transport::wrap_tcp(s.transaction, s.req.unit, pdu);
  }

private:
  struct Conn {
    explicit Conn(asio::io_context& io) : socket(io) {}
    asio::ip::tcp::socket socket;
    std::vector<std::uint8_t> rx;
    std::array<std::uint8_t, 512> chunk{};
  };

  void accept() {
    auto c = std::make_shared<Conn>(m_io);
    m_acceptor.async_accept(c->socket, [this, c](boost::system::error_code ec) {
      if (ec) return;
      ++m_connections;
      m_conns.push_back(c);
      read(c);
      accept();
    });
  }

  void read(std::shared_ptr<Conn> c) {
    c->socket.async_read_some(asio::buffer(c->chunk), [this, c](boost::system::error_code ec, std::size_t n) {
      if (ec) return;
      c->rx.insert(c->rx.end(), c->chunk.begin(), c->chunk.begin() + static_cast<std::ptrdiff_t>(n));
      while (true) {
        auto s = m_rtu ? transport::scan_rtu_request(c->rx) : transport::scan_tcp_frame(c->rx);
        if (s.status != transport::FrameScan::Status::complete) break;
        auto req = transport::decode_request_pdu(s.unit, s.pdu);
        SeenRequest seen{req.ok() ? *req : transport::Request{}, s.transaction, std::chrono::steady_clock::now()};
        c->rx.erase(c->rx.begin(), c->rx.begin() + static_cast<std::ptrdiff_t>(s.size));
        m_seen.push_back(seen);
        for (auto& a : m_script(seen, static_cast<int>(m_seen.size()) - 1)) act(c, std::move(a));
      }
      read(c);
    });
  }

  void act(std::shared_ptr<Conn> c, PeerAction a) {
    auto t = std::make_shared<asio::steady_timer>(m_io, a.delay);
    t->async_wait([c, t, a = std::move(a)](boost::system::error_code) mutable {
      boost::system::error_code ignored;
      if (a.hang_up) {
        c->socket.close(ignored);
        return;
      }
      auto bytes = std::make_shared<std::vector<std::uint8_t>>(std::move(a.bytes));
      asio::async_write(c->socket, asio::buffer(*bytes), [bytes, c](boost::system::error_code, std::size_t) {});
    });
  }

  asio::io_context& m_io;
  asio::ip::tcp::acceptor m_acceptor;
  bool m_rtu;
  Script m_script;
  std::vector<SeenRequest> m_seen;
  std::vector<std::shared_ptr<Conn>> m_conns;
  int m_connections = 0;
};

} // namespace kwh::test
