#pragma once
// Modbus frames as bytes: request PDUs, the two framings kwh speaks (MBAP for Modbus TCP; unit,
// PDU and CRC-16 for RTU, on a serial line or a raw TCP socket), and the checks a reply must
// pass before its values are believed. Pure functions over byte spans, so that the fuzzer and
// the unit tests can drive them without sockets; the simulator uses the server half.

#include <kwh/transport/failure.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kwh::transport {

enum class Function : std::uint8_t {
  read_coils = 1,
  read_discrete = 2,
  read_holding = 3,
  read_input = 4,
  write_single_coil = 5,
  write_single_register = 6,
  write_multiple_registers = 16,
};

const char* function_name(Function f);
bool is_read(Function f);

// Largest quantities one request may carry (Modbus application protocol, section 6).
inline constexpr std::uint16_t k_max_read_registers = 125;
inline constexpr std::uint16_t k_max_read_bits = 2000;
inline constexpr std::uint16_t k_max_write_registers = 123;

// One request to one device. For reads `count` is the number of registers or bits; for writes
// `values` holds the words (write_single_coil: values[0] != 0 means on).
struct Request {
  std::uint8_t unit = 1;
  Function function = Function::read_holding;
  std::uint16_t address = 0; // zero-based PDU address
  std::uint16_t count = 0;
  std::vector<std::uint16_t> values;
  // A DL/T 645 gateway's request: the frame's bytes, sent as they are (the fields above are
  // unused); the reply is the next whole DL/T 645 frame (Response::frame). A broadcast gets no
  // reply: it is done once it is sent.
  std::vector<std::uint8_t> frame;
  bool broadcast = false;

  static Request raw_frame(std::vector<std::uint8_t> bytes, bool broadcast = false);
  static Request read_holding(std::uint8_t unit, std::uint16_t address, std::uint16_t count);
  static Request read_input(std::uint8_t unit, std::uint16_t address, std::uint16_t count);
  static Request read_coils(std::uint8_t unit, std::uint16_t address, std::uint16_t count);
  static Request read_discrete(std::uint8_t unit, std::uint16_t address, std::uint16_t count);
  static Request write_register(std::uint8_t unit, std::uint16_t address, std::uint16_t value);
  static Request write_registers(std::uint8_t unit, std::uint16_t address, std::vector<std::uint16_t> values);
  static Request write_coil(std::uint8_t unit, std::uint16_t address, bool on);

  // "read holding 0x0000+2 @1", for logs.
  std::string describe() const;
};

// A validated answer: the words of a register read, the bits of a coil/discrete read, nothing
// for a write (its echo has been checked against the request).
struct Response {
  std::vector<std::uint16_t> words;
  std::vector<bool> bits;
  std::vector<std::uint8_t> frame; // a DL/T 645 reply: the frame's bytes (preamble included)
};

// CRC-16/Modbus (poly 0xA001 reflected, init 0xFFFF); on the wire low byte first.
std::uint16_t crc16(std::span<const std::uint8_t> bytes);

// Client side ----------------------------------------------------------------------------------

// Function code and data. Throws Error(usage) for a request no device could accept (count 0 or
// above the protocol's limits, write with no values).
std::vector<std::uint8_t> encode_request_pdu(const Request& req);
std::vector<std::uint8_t> encode_tcp_request(const Request& req, std::uint16_t transaction);
std::vector<std::uint8_t> encode_rtu_request(const Request& req);

// Checks a reply PDU (function code onwards) against the request it answers: an exception
// reply is Failure::exception; a wrong function, byte count, echo or length is bad_frame.
Outcome<Response> decode_response_pdu(const Request& req, std::span<const std::uint8_t> pdu);

// What is at the front of a receive buffer.
struct FrameScan {
  enum class Status {
    incomplete, // not enough bytes yet
    complete,   // a whole frame of `size` bytes
    invalid,    // not a frame: the stream is out of step (TCP) or the reply is corrupt (RTU)
  };
  Status status = Status::incomplete;
  std::size_t size = 0;
  std::uint16_t transaction = 0; // MBAP only
  std::uint8_t unit = 0;
  std::span<const std::uint8_t> pdu; // complete: the PDU inside buf
  std::string problem;               // invalid: why
};

// An MBAP frame (request or reply): 7-byte header, then the PDU. Invalid when the protocol id
// is not 0 or the length is impossible.
FrameScan scan_tcp_frame(std::span<const std::uint8_t> buf);
// An RTU reply to `req`: its length follows from the function code (exception replies are 5
// bytes, reads 5 + byte count, write echoes 8). Invalid on a wrong unit, an unexpected function
// code or a bad CRC.
FrameScan scan_rtu_response(const Request& req, std::span<const std::uint8_t> buf);

// Both steps for a complete buffer, for tests and the fuzzer: the reply to `req` with
// `transaction`, or why not. Trailing bytes are an error.
Outcome<Response> decode_tcp_response(const Request& req, std::uint16_t transaction,
                                      std::span<const std::uint8_t> frame);
Outcome<Response> decode_rtu_response(const Request& req, std::span<const std::uint8_t> frame);

// Server side (the simulator) ------------------------------------------------------------------

// The request in a PDU; on failure, the exception code to answer with (1 illegal function,
// 3 illegal data value) in Failure::exception_code.
Outcome<Request> decode_request_pdu(std::uint8_t unit, std::span<const std::uint8_t> pdu);
// An RTU request at the front of buf (length from the function code).
FrameScan scan_rtu_request(std::span<const std::uint8_t> buf);
std::vector<std::uint8_t> encode_response_pdu(const Request& req, const Response& resp);
std::vector<std::uint8_t> encode_exception_pdu(Function f, std::uint8_t code);
std::vector<std::uint8_t> encode_exception_pdu(std::uint8_t function_code, std::uint8_t code);
std::vector<std::uint8_t> wrap_tcp(std::uint16_t transaction, std::uint8_t unit, std::span<const std::uint8_t> pdu);
std::vector<std::uint8_t> wrap_rtu(std::uint8_t unit, std::span<const std::uint8_t> pdu);

} // namespace kwh::transport
