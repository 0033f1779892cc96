#include <kwh/transport/link.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/serial_port.hpp>
#include <boost/asio/write.hpp>

#include <cerrno>

#include <sys/socket.h>

namespace kwh::transport {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

class TcpLink final : public Link {
public:
  TcpLink(asio::io_context& io, const GatewaySpec& spec) : m_resolver(io), m_socket(io), m_spec(spec) {}

  void async_open(Done done) override {
    auto hp = parse_host_port(m_spec.address);
    if (!hp.ok()) {
      asio::post(m_socket.get_executor(), [done] { done(asio::error::invalid_argument); });
      return;
    }
    m_resolver.async_resolve(hp->first, std::to_string(hp->second), asio::ip::resolver_base::numeric_service,
                             [this, done](error_code ec, asio::ip::tcp::resolver::results_type results) {
                               if (ec) return done(ec);
                               asio::async_connect(m_socket, results, [this, done](error_code ec2, const auto&) {
                                 if (!ec2) {
                                   error_code ignored;
                                   m_socket.set_option(asio::ip::tcp::no_delay(true), ignored);
                                 }
                                 done(ec2);
                               });
                             });
  }

  void async_write(std::span<const std::uint8_t> bytes, Done done) override {
    asio::async_write(m_socket, asio::buffer(bytes.data(), bytes.size()),
                      [done](error_code ec, std::size_t) { done(ec); });
  }

  void async_read_some(std::span<std::uint8_t> into, ReadDone done) override {
    m_socket.async_read_some(asio::buffer(into.data(), into.size()), std::move(done));
  }

  void cancel() override {
    m_resolver.cancel();
    error_code ignored;
    m_socket.cancel(ignored);
  }

  void close() override {
    m_resolver.cancel();
    error_code ignored;
    m_socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    m_socket.close(ignored);
  }

  bool is_open() const override { return m_socket.is_open(); }

  bool peer_closed() override {
    if (!m_socket.is_open()) return true;
    std::uint8_t byte = 0;
    ssize_t n = ::recv(m_socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return false; // bytes waiting (a late reply): the framing deals with them
    if (n == 0) return true; // orderly shutdown by the peer
    return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  }

private:
  asio::ip::tcp::resolver m_resolver;
  asio::ip::tcp::socket m_socket;
  GatewaySpec m_spec;
};

class SerialLink final : public Link {
public:
  SerialLink(asio::io_context& io, const GatewaySpec& spec) : m_port(io), m_spec(spec) {}

  // Opening a local port does not block for long; it is done at once and reported async.
  void async_open(Done done) override {
    error_code ec;
    m_port.open(m_spec.address, ec);
    if (!ec) m_port.set_option(asio::serial_port::baud_rate(m_spec.baud), ec);
    if (!ec) m_port.set_option(asio::serial_port::character_size(8), ec);
    if (!ec) {
      using P = asio::serial_port::parity;
      P p(m_spec.parity == Parity::even  ? P::even
          : m_spec.parity == Parity::odd ? P::odd
                                         : P::none);
      m_port.set_option(p, ec);
    }
    if (!ec) {
      using S = asio::serial_port::stop_bits;
      m_port.set_option(S(m_spec.stop_bits == 2 ? S::two : S::one), ec);
    }
    if (!ec) m_port.set_option(asio::serial_port::flow_control(asio::serial_port::flow_control::none), ec);
    if (ec) {
      error_code ignored;
      m_port.close(ignored);
    }
    asio::post(m_port.get_executor(), [done, ec] { done(ec); });
  }

  void async_write(std::span<const std::uint8_t> bytes, Done done) override {
    asio::async_write(m_port, asio::buffer(bytes.data(), bytes.size()),
                      [done](error_code ec, std::size_t) { done(ec); });
  }

  void async_read_some(std::span<std::uint8_t> into, ReadDone done) override {
    m_port.async_read_some(asio::buffer(into.data(), into.size()), std::move(done));
  }

  void cancel() override {
    error_code ignored;
    m_port.cancel(ignored);
  }

  void close() override {
    error_code ignored;
    m_port.close(ignored);
  }

  bool is_open() const override { return m_port.is_open(); }

private:
  asio::serial_port m_port;
  GatewaySpec m_spec;
};

} // namespace

std::unique_ptr<Link> make_link(asio::io_context& io, const GatewaySpec& spec) {
  if (spec.kind == Kind::rtu_serial) return std::make_unique<SerialLink>(io, spec);
  return std::make_unique<TcpLink>(io, spec);
}

} // namespace kwh::transport
