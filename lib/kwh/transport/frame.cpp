#include <kwh/transport/frame.hpp>

#include <fmt/format.h>

namespace kwh::transport {

namespace {

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xFF));
}

std::uint16_t get16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}

bool known_function(std::uint8_t f) {
  return (f >= 1 && f <= 6) || f == 16;
}

bool reads_bits(Function f) { return f == Function::read_coils || f == Function::read_discrete; }

} // namespace

const char* function_name(Function f) {
  switch (f) {
  case Function::read_coils: return "read coils";
  case Function::read_discrete: return "read discrete";
  case Function::read_holding: return "read holding";
  case Function::read_input: return "read input";
  case Function::write_single_coil: return "write coil";
  case Function::write_single_register: return "write register";
  case Function::write_multiple_registers: return "write registers";
  }
  return "function ?";
}

bool is_read(Function f) { return static_cast<std::uint8_t>(f) <= 4; }

Request Request::raw_frame(std::vector<std::uint8_t> bytes, bool broadcast) {
  Request r;
  r.frame = std::move(bytes);
  r.broadcast = broadcast;
  return r;
}

Request Request::read_holding(std::uint8_t unit, std::uint16_t address, std::uint16_t count) {
  return {unit, Function::read_holding, address, count, {}};
}
Request Request::read_input(std::uint8_t unit, std::uint16_t address, std::uint16_t count) {
  return {unit, Function::read_input, address, count, {}};
}
Request Request::read_coils(std::uint8_t unit, std::uint16_t address, std::uint16_t count) {
  return {unit, Function::read_coils, address, count, {}};
}
Request Request::read_discrete(std::uint8_t unit, std::uint16_t address, std::uint16_t count) {
  return {unit, Function::read_discrete, address, count, {}};
}
Request Request::write_register(std::uint8_t unit, std::uint16_t address, std::uint16_t value) {
  return {unit, Function::write_single_register, address, 1, {value}};
}
Request Request::write_registers(std::uint8_t unit, std::uint16_t address, std::vector<std::uint16_t> values) {
  auto n = static_cast<std::uint16_t>(values.size());
  return {unit, Function::write_multiple_registers, address, n, std::move(values)};
}
Request Request::write_coil(std::uint8_t unit, std::uint16_t address, bool on) {
  return {unit, Function::write_single_coil, address, 1, {static_cast<std::uint16_t>(on ? 1 : 0)}};
}

std::string Request::describe() const {
  if (is_read(function)) return fmt::format("{} 0x{:04X}+{} @{}", function_name(function), address, count, unit);
  return fmt::format("{} 0x{:04X} ({} word{}) @{}", function_name(function), address, values.size(),
                     values.size() == 1 ? "" : "s", unit);
}

std::uint16_t crc16(std::span<const std::uint8_t> bytes) {
  std::uint16_t crc = 0xFFFF;
  for (std::uint8_t b : bytes) {
    crc ^= b;
    for (int i = 0; i < 8; ++i) crc = (crc & 1) ? static_cast<std::uint16_t>((crc >> 1) ^ 0xA001) : static_cast<std::uint16_t>(crc >> 1);
  }
  return crc;
}

std::vector<std::uint8_t> encode_request_pdu(const Request& req) {
  std::vector<std::uint8_t> pdu;
  pdu.push_back(static_cast<std::uint8_t>(req.function));
  switch (req.function) {
  case Function::read_coils:
  case Function::read_discrete:
  case Function::read_holding:
  case Function::read_input: {
    std::uint16_t max = reads_bits(req.function) ? k_max_read_bits : k_max_read_registers;
    if (req.count == 0 || req.count > max)
      fail(Exit::usage, "{}: count {} is outside 1..{}", function_name(req.function), req.count, max);
    put16(pdu, req.address);
    put16(pdu, req.count);
    break;
  }
  case Function::write_single_coil:
    if (req.values.size() != 1) fail(Exit::usage, "write coil: needs exactly one value");
    put16(pdu, req.address);
    put16(pdu, req.values[0] ? 0xFF00 : 0x0000);
    break;
  case Function::write_single_register:
    if (req.values.size() != 1) fail(Exit::usage, "write register: needs exactly one value");
    put16(pdu, req.address);
    put16(pdu, req.values[0]);
    break;
  case Function::write_multiple_registers: {
    if (req.values.empty() || req.values.size() > k_max_write_registers)
      fail(Exit::usage, "write registers: {} values is outside 1..{}", req.values.size(), k_max_write_registers);
    put16(pdu, req.address);
    put16(pdu, static_cast<std::uint16_t>(req.values.size()));
    pdu.push_back(static_cast<std::uint8_t>(req.values.size() * 2));
    for (auto v : req.values) put16(pdu, v);
    break;
  }
  default: fail(Exit::usage, "unsupported Modbus function {}", static_cast<int>(req.function));
  }
  return pdu;
}

std::vector<std::uint8_t> wrap_tcp(std::uint16_t transaction, std::uint8_t unit, std::span<const std::uint8_t> pdu) {
  std::vector<std::uint8_t> out;
  out.reserve(7 + pdu.size());
  put16(out, transaction);
  put16(out, 0);
  put16(out, static_cast<std::uint16_t>(pdu.size() + 1));
  out.push_back(unit);
  out.insert(out.end(), pdu.begin(), pdu.end());
  return out;
}

std::vector<std::uint8_t> wrap_rtu(std::uint8_t unit, std::span<const std::uint8_t> pdu) {
  std::vector<std::uint8_t> out;
  out.reserve(3 + pdu.size());
  out.push_back(unit);
  out.insert(out.end(), pdu.begin(), pdu.end());
  std::uint16_t crc = crc16(out);
  out.push_back(static_cast<std::uint8_t>(crc & 0xFF));
  out.push_back(static_cast<std::uint8_t>(crc >> 8));
  return out;
}

std::vector<std::uint8_t> encode_tcp_request(const Request& req, std::uint16_t transaction) {
  return wrap_tcp(transaction, req.unit, encode_request_pdu(req));
}

std::vector<std::uint8_t> encode_rtu_request(const Request& req) { return wrap_rtu(req.unit, encode_request_pdu(req)); }

Outcome<Response> decode_response_pdu(const Request& req, std::span<const std::uint8_t> pdu) {
  if (pdu.empty()) return Failure::bad_frame("empty reply");
  auto fc = static_cast<std::uint8_t>(req.function);
  if (pdu[0] == (fc | 0x80)) {
    if (pdu.size() != 2) return Failure::bad_frame(fmt::format("exception reply of {} bytes", pdu.size()));
    return Failure::exception(pdu[1]);
  }
  if (pdu[0] != fc) return Failure::bad_frame(fmt::format("reply has function {}, expected {}", pdu[0], fc));

  Response resp;
  if (is_read(req.function)) {
    if (pdu.size() < 2) return Failure::bad_frame("read reply without byte count");
    std::size_t want = reads_bits(req.function) ? (req.count + 7u) / 8u : req.count * 2u;
    if (pdu[1] != want)
      return Failure::bad_frame(fmt::format("reply has {} data bytes, expected {}", pdu[1], want));
    if (pdu.size() != 2 + want)
      return Failure::bad_frame(fmt::format("reply is {} bytes, expected {}", pdu.size(), 2 + want));
    auto data = pdu.subspan(2);
    if (reads_bits(req.function)) {
      resp.bits.reserve(req.count);
      for (std::size_t i = 0; i < req.count; ++i) resp.bits.push_back((data[i / 8] >> (i % 8)) & 1);
    } else {
      resp.words.reserve(req.count);
      for (std::size_t i = 0; i < req.count; ++i) resp.words.push_back(get16(data, 2 * i));
    }
    return resp;
  }

  // Writes echo the address and the value (single) or the quantity (multiple).
  if (pdu.size() != 5) return Failure::bad_frame(fmt::format("write reply is {} bytes, expected 5", pdu.size()));
  std::uint16_t addr = get16(pdu, 1), second = get16(pdu, 3);
  std::uint16_t want_second = 0;
  switch (req.function) {
  case Function::write_single_coil: want_second = (!req.values.empty() && req.values[0]) ? 0xFF00 : 0x0000; break;
  case Function::write_single_register: want_second = req.values.empty() ? 0 : req.values[0]; break;
  default: want_second = static_cast<std::uint16_t>(req.values.size()); break;
  }
  if (addr != req.address || second != want_second)
    return Failure::bad_frame(fmt::format("write echo 0x{:04X}/0x{:04X} does not match 0x{:04X}/0x{:04X}", addr,
                                          second, req.address, want_second));
  return resp;
}

FrameScan scan_tcp_frame(std::span<const std::uint8_t> buf) {
  FrameScan s;
  if (buf.size() < 7) return s;
  std::uint16_t protocol = get16(buf, 2), length = get16(buf, 4);
  if (protocol != 0 || length < 2 || length > 254) {
    s.status = FrameScan::Status::invalid;
    s.problem = fmt::format("MBAP header with protocol {} and length {}", protocol, length);
    return s;
  }
  std::size_t size = 6u + length;
  if (buf.size() < size) return s;
  s.status = FrameScan::Status::complete;
  s.size = size;
  s.transaction = get16(buf, 0);
  s.unit = buf[6];
  s.pdu = buf.subspan(7, length - 1u);
  return s;
}

namespace {

// Completes an RTU scan of `size` bytes: CRC over everything but the last two bytes.
FrameScan finish_rtu(std::span<const std::uint8_t> buf, std::size_t size) {
  FrameScan s;
  if (buf.size() < size) return s;
  std::uint16_t crc = crc16(buf.first(size - 2));
  std::uint16_t got = static_cast<std::uint16_t>(buf[size - 2] | (buf[size - 1] << 8));
  if (crc != got) {
    s.status = FrameScan::Status::invalid;
    s.problem = fmt::format("bad CRC 0x{:04X}, computed 0x{:04X}", got, crc);
    return s;
  }
  s.status = FrameScan::Status::complete;
  s.size = size;
  s.unit = buf[0];
  s.pdu = buf.subspan(1, size - 3);
  return s;
}

FrameScan invalid(std::string why) {
  FrameScan s;
  s.status = FrameScan::Status::invalid;
  s.problem = std::move(why);
  return s;
}

} // namespace

FrameScan scan_rtu_response(const Request& req, std::span<const std::uint8_t> buf) {
  if (buf.empty()) return {};
  if (buf[0] != req.unit) return invalid(fmt::format("reply from unit {}, expected {}", buf[0], req.unit));
  if (buf.size() < 2) return {};
  auto fc = static_cast<std::uint8_t>(req.function);
  if (buf[1] == (fc | 0x80)) return finish_rtu(buf, 5);
  if (buf[1] != fc) return invalid(fmt::format("reply has function {}, expected {}", buf[1], fc));
  if (is_read(req.function)) {
    if (buf.size() < 3) return {};
    return finish_rtu(buf, 5u + buf[2]);
  }
  return finish_rtu(buf, 8);
}

Outcome<Response> decode_tcp_response(const Request& req, std::uint16_t transaction,
                                      std::span<const std::uint8_t> frame) {
  FrameScan s = scan_tcp_frame(frame);
  if (s.status == FrameScan::Status::invalid) return Failure::bad_frame(s.problem);
  if (s.status == FrameScan::Status::incomplete) return Failure::bad_frame("truncated frame");
  if (s.size != frame.size()) return Failure::bad_frame("bytes after the frame");
  if (s.transaction != transaction)
    return Failure::bad_frame(fmt::format("transaction {}, expected {}", s.transaction, transaction));
  if (s.unit != req.unit) return Failure::bad_frame(fmt::format("reply from unit {}, expected {}", s.unit, req.unit));
  return decode_response_pdu(req, s.pdu);
}

Outcome<Response> decode_rtu_response(const Request& req, std::span<const std::uint8_t> frame) {
  FrameScan s = scan_rtu_response(req, frame);
  if (s.status == FrameScan::Status::invalid) return Failure::bad_frame(s.problem);
  if (s.status == FrameScan::Status::incomplete) return Failure::bad_frame("truncated frame");
  if (s.size != frame.size()) return Failure::bad_frame("bytes after the frame");
  return decode_response_pdu(req, s.pdu);
}

// Server side ------------------------------------------------------------------------------------

Outcome<Request> decode_request_pdu(std::uint8_t unit, std::span<const std::uint8_t> pdu) {
  auto illegal = [](std::uint8_t code, std::string msg) {
    Failure f = Failure::exception(code);
    f.message = std::move(msg);
    return f;
  };
  if (pdu.empty()) return illegal(1, "empty request");
  if (!known_function(pdu[0])) return illegal(1, fmt::format("function {}", pdu[0]));
  Request req;
  req.unit = unit;
  req.function = static_cast<Function>(pdu[0]);
  if (req.function == Function::write_multiple_registers) {
    if (pdu.size() < 6) return illegal(3, "short write");
    req.address = get16(pdu, 1);
    req.count = get16(pdu, 3);
    std::size_t bytes = pdu[5];
    if (req.count == 0 || req.count > k_max_write_registers || bytes != req.count * 2u || pdu.size() != 6 + bytes)
      return illegal(3, "bad write length");
    for (std::size_t i = 0; i < req.count; ++i) req.values.push_back(get16(pdu, 6 + 2 * i));
    return req;
  }
  if (pdu.size() != 5) return illegal(3, "bad request length");
  req.address = get16(pdu, 1);
  std::uint16_t second = get16(pdu, 3);
  if (is_read(req.function)) {
    std::uint16_t max = reads_bits(req.function) ? k_max_read_bits : k_max_read_registers;
    if (second == 0 || second > max) return illegal(3, "bad count");
    req.count = second;
  } else if (req.function == Function::write_single_coil) {
    if (second != 0xFF00 && second != 0x0000) return illegal(3, "bad coil value");
    req.count = 1;
    req.values = {static_cast<std::uint16_t>(second ? 1 : 0)};
  } else {
    req.count = 1;
    req.values = {second};
  }
  return req;
}

FrameScan scan_rtu_request(std::span<const std::uint8_t> buf) {
  if (buf.size() < 2) return {};
  if (!known_function(buf[1])) return invalid(fmt::format("function {}", buf[1]));
  if (buf[1] == 16) {
    if (buf.size() < 7) return {};
    return finish_rtu(buf, 9u + buf[6]);
  }
  return finish_rtu(buf, 8);
}

std::vector<std::uint8_t> encode_response_pdu(const Request& req, const Response& resp) {
  std::vector<std::uint8_t> pdu;
  pdu.push_back(static_cast<std::uint8_t>(req.function));
  if (reads_bits(req.function)) {
    std::vector<std::uint8_t> bytes((req.count + 7u) / 8u, 0);
    for (std::size_t i = 0; i < req.count && i < resp.bits.size(); ++i)
      if (resp.bits[i]) bytes[i / 8] = static_cast<std::uint8_t>(bytes[i / 8] | (1u << (i % 8)));
    pdu.push_back(static_cast<std::uint8_t>(bytes.size()));
    pdu.insert(pdu.end(), bytes.begin(), bytes.end());
  } else if (is_read(req.function)) {
    pdu.push_back(static_cast<std::uint8_t>(req.count * 2));
    for (std::size_t i = 0; i < req.count; ++i) put16(pdu, i < resp.words.size() ? resp.words[i] : 0);
  } else {
    put16(pdu, req.address);
    if (req.function == Function::write_single_coil)
      put16(pdu, req.values.at(0) ? 0xFF00 : 0x0000);
    else if (req.function == Function::write_single_register)
      put16(pdu, req.values.at(0));
    else
      put16(pdu, static_cast<std::uint16_t>(req.values.size()));
  }
  return pdu;
}

std::vector<std::uint8_t> encode_exception_pdu(std::uint8_t function_code, std::uint8_t code) {
  return {static_cast<std::uint8_t>(function_code | 0x80), code};
}

std::vector<std::uint8_t> encode_exception_pdu(Function f, std::uint8_t code) {
  return encode_exception_pdu(static_cast<std::uint8_t>(f), code);
}

} // namespace kwh::transport
