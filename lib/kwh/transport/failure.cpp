#include <kwh/transport/failure.hpp>

namespace kwh::transport {

const char* kind_name(Failure::Kind kind) {
  switch (kind) {
  case Failure::Kind::timeout: return "timeout";
  case Failure::Kind::exception: return "exception";
  case Failure::Kind::bad_frame: return "bad frame";
  case Failure::Kind::connection_refused: return "connection refused";
  case Failure::Kind::connection_lost: return "connection lost";
  }
  return "failure";
}

const char* exception_name(std::uint8_t code) {
  switch (code) {
  case 1: return "illegal function";
  case 2: return "illegal data address";
  case 3: return "illegal data value";
  case 4: return "server device failure";
  case 5: return "acknowledge";
  case 6: return "server device busy";
  case 8: return "memory parity error";
  case 10: return "gateway path unavailable";
  case 11: return "gateway target device failed to respond";
  default: return "unknown exception";
  }
}

Failure Failure::exception(std::uint8_t code) {
  return {Kind::exception, code, exception_name(code)};
}

std::string Failure::describe() const {
  if (kind == Kind::exception) return fmt::format("exception {} ({})", exception_code, exception_name(exception_code));
  if (message.empty()) return kind_name(kind);
  return fmt::format("{}: {}", kind_name(kind), message);
}

Exit Failure::exit_code() const {
  switch (kind) {
  case Kind::timeout:
  case Kind::connection_refused:
  case Kind::connection_lost: return Exit::unavailable;
  case Kind::exception:
    // A gateway that cannot reach its meter says so with 10 or 11: still unreachable.
    return (exception_code == 10 || exception_code == 11) ? Exit::unavailable : Exit::failed;
  case Kind::bad_frame: return Exit::failed;
  }
  return Exit::failed;
}

Error to_error(const Failure& failure, const std::string& what) {
  return Error(failure.exit_code(), fmt::format("{}: {}", what, failure.describe()));
}

} // namespace kwh::transport
