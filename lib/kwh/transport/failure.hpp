#pragma once
// How a Modbus request can fail, as a value. The daemon keeps polling whatever a meter does, so
// the asynchronous path never throws: it hands back an Outcome that holds either the answer or
// a typed Failure (in the manner of ccache's remote storage Failure). The CLI turns a Failure
// into a kwh::Error with to_error().

#include <kwh/util/error.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace kwh::transport {

struct Failure {
  enum class Kind {
    timeout,            // no (complete) answer within the gateway's response timeout
    exception,          // the device answered with a Modbus exception (see exception_code)
    bad_frame,          // an answer that is not a valid reply to the request: CRC, length, unit...
    connection_refused, // could not connect to the gateway or open the serial port
    connection_lost,    // the connection dropped while the request was on the bus, or bus closed
  };

  Kind kind = Kind::timeout;
  std::uint8_t exception_code = 0; // kind == exception: 1 illegal function, 2 address, 3 value, 4 device failure...
  std::string message;             // what happened, one line, for logs

  static Failure timeout(std::string msg) { return {Kind::timeout, 0, std::move(msg)}; }
  static Failure exception(std::uint8_t code);
  static Failure bad_frame(std::string msg) { return {Kind::bad_frame, 0, std::move(msg)}; }
  static Failure refused(std::string msg) { return {Kind::connection_refused, 0, std::move(msg)}; }
  static Failure lost(std::string msg) { return {Kind::connection_lost, 0, std::move(msg)}; }

  // One line, e.g. "timeout: no reply within 500 ms" or "exception 2 (illegal data address)".
  std::string describe() const;
  // Exit code of kwh(1): a device that cannot be reached is 69; one that answers with an
  // exception or with nonsense is 1.
  Exit exit_code() const;
};

const char* kind_name(Failure::Kind kind);
// "illegal data address" for 2, and so on.
const char* exception_name(std::uint8_t code);

// The Error a command reports for a failed request; `what` names the meter or gateway.
Error to_error(const Failure& failure, const std::string& what);

// A value or a Failure.
template <typename T> class Outcome {
public:
  Outcome(T value) : m_v(std::in_place_index<0>, std::move(value)) {}
  Outcome(Failure failure) : m_v(std::in_place_index<1>, std::move(failure)) {}

  bool ok() const noexcept { return m_v.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  // Precondition: ok().
  T& value() & { return std::get<0>(m_v); }
  const T& value() const& { return std::get<0>(m_v); }
  T&& value() && { return std::get<0>(std::move(m_v)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  // Precondition: !ok().
  const Failure& failure() const { return std::get<1>(m_v); }

private:
  std::variant<T, Failure> m_v;
};

} // namespace kwh::transport
