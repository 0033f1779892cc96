#pragma once
// DL/T 645-2007 frames as bytes: the meter address, the control code, the frame itself and the
// few requests kwh sends (read data, read address, broadcast time, relay control) with the
// replies they get. Pure functions over byte spans, as transport/frame is for Modbus, so that
// the unit tests' corpus and the fuzzer drive them without a serial line. What the value bytes
// of a read mean is identifiers.hpp.
//
// On the wire a frame is
//   [FE FE FE FE] 68 A0..A5 68 C L DATA CS 16
// where the FE preamble wakes the meter's receiver (any number, usually 4), A0..A5 is the
// address (BCD, lowest byte first), L the number of data bytes, every data byte goes out with
// 0x33 added, and CS is the sum modulo 256 of every byte from the first 68 to the last data
// byte. Multi-byte numbers inside the data (identifiers, values) are sent lowest byte first.

#include <kwh/util/error.hpp>
#include <kwh/util/time.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kwh::dlt645 {

// A meter's communication address: the 12 decimal digits on its nameplate, sent as six BCD
// bytes lowest first ("123456789012" is 12 90 78 56 34 12 on the wire). A byte may instead be
// 0xAA, the wildcard: all six AA reach whichever single meter is on the bus (read address), and
// AA in the high bytes is the standard's abbreviated addressing. Every Address holds only BCD
// bytes and AA; parse() and the frame decoder reject anything else.
class Address {
public:
  static constexpr std::size_t k_size = 6;

  Address() = default; // 000000000000

  // "123456789012": exactly 12 characters, each pair two decimal digits or "AA" (a wildcard
  // byte). Errors are Exit::data and quote the text.
  static Result<Address> parse(std::string_view text);
  // A0..A5 as they are on the wire; an error names the first byte that is neither BCD nor AA.
  static Result<Address> from_wire(std::span<const std::uint8_t> bytes);
  // 999999999999: every meter listens, none answers (broadcast time).
  static constexpr Address broadcast() { return Address({0x99, 0x99, 0x99, 0x99, 0x99, 0x99}); }
  // AAAAAAAAAAAA: the one meter on the bus answers (read address).
  static constexpr Address wildcard() { return Address({0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA}); }

  // A0..A5, lowest first.
  const std::array<std::uint8_t, k_size>& wire() const { return m_bytes; }
  // "123456789012"; a wildcard byte is "AA".
  std::string format() const;
  bool has_wildcard() const;
  // Whether a reply from `from` answers a request sent to this address: equal, byte for byte,
  // except where this address has a wildcard.
  bool matches(const Address& from) const;

  friend bool operator==(const Address&, const Address&) = default;

private:
  constexpr explicit Address(std::array<std::uint8_t, k_size> bytes) : m_bytes(bytes) {}
  std::array<std::uint8_t, k_size> m_bytes{};
};

// The low five bits of the control code. kwh sends the first four and relay_control; the rest
// are named so that logs can say what a frame on the bus was.
enum class Function : std::uint8_t {
  broadcast_time = 0x08,
  read_data = 0x11,
  read_follow_up = 0x12,
  read_address = 0x13,
  write_data = 0x14,
  write_address = 0x15,
  freeze = 0x16,
  change_baud_rate = 0x17,
  change_password = 0x18,
  clear_demand = 0x19,
  clear_meter = 0x1A,
  clear_events = 0x1B,
  relay_control = 0x1C, // trip and close the relay, alarm, protect (跳合闸、报警、保电)
  output_control = 0x1D,
};

// "read data", "relay control"; "function 0x05" for codes the standard does not define.
std::string function_name(Function f);

// The control code C: bit 7 is set on replies from the meter, bit 6 on error ("abnormal")
// replies, bit 5 when follow-up frames hold the rest of the answer, bits 0-4 the function.
// Read data is 0x11; its replies 0x91, 0xB1 (more follows) and 0xD1 (error).
struct Control {
  std::uint8_t byte = 0;

  static constexpr Control request(Function f) { return {static_cast<std::uint8_t>(f)}; }
  static constexpr Control reply(Function f, bool more = false) {
    return {static_cast<std::uint8_t>(0x80 | (more ? 0x20 : 0) | static_cast<std::uint8_t>(f))};
  }
  static constexpr Control error_reply(Function f) { return {static_cast<std::uint8_t>(0xC0 | static_cast<std::uint8_t>(f))}; }

  constexpr Function function() const { return static_cast<Function>(byte & 0x1F); }
  constexpr bool from_meter() const { return (byte & 0x80) != 0; }
  constexpr bool abnormal() const { return (byte & 0x40) != 0; }
  constexpr bool more_follows() const { return (byte & 0x20) != 0; }

  friend constexpr bool operator==(Control, Control) = default;
};

// The preamble encode_frame() writes unless told otherwise: four 0xFE, as the standard advises.
inline constexpr std::size_t k_default_preamble = 4;
// The standard's largest data field (L ≤ 200 for reads; writes are limited to 50). The decoder
// treats a larger L as a corrupt frame rather than waiting for up to 255 bytes.
inline constexpr std::size_t k_max_data = 200;
// 68, six address bytes, 68, C, L, CS, 16: a frame is this plus its data.
inline constexpr std::size_t k_overhead = 12;

// One frame, with its data as meant (0x33 already taken off).
struct Frame {
  Address address;
  Control control;
  std::vector<std::uint8_t> data;

  // "read data reply from 123456789012, 8 data bytes", for logs.
  std::string describe() const;

  friend bool operator==(const Frame&, const Frame&) = default;
};

// Sum modulo 256.
std::uint8_t checksum(std::span<const std::uint8_t> bytes);

// `preamble` bytes of 0xFE, then the frame. Throws Error(usage) for more than k_max_data bytes
// of data, which no meter would take.
std::vector<std::uint8_t> encode_frame(const Frame& frame, std::size_t preamble = k_default_preamble);

// What is at the front of a receive buffer. Bytes before the first 0x68 (the FE preamble, line
// noise, a converter's stray byte) are skipped; that 0x68 must then start a frame.
struct FrameScan {
  enum class Status {
    incomplete, // need more bytes (nothing is wrong so far)
    complete,   // a whole frame; `frame` holds it
    invalid,    // a bad frame: `problem` says why
  };
  Status status = Status::incomplete;
  // complete: bytes consumed, the preamble and anything skipped before the frame included;
  // invalid: bytes to drop (through the 0x68 that did not start a frame) before scanning again;
  // incomplete: 0.
  std::size_t size = 0;
  Frame frame;
  std::string problem; // invalid: "checksum 0x12, computed 0x34"

  // "incomplete, need more bytes", "bad frame: checksum 0x12, computed 0x34" or "frame: ...".
  std::string describe() const;
};

// Never reads outside buf. Invalid when the seventh byte after the first 0x68 is not 0x68, an
// address byte is neither BCD nor 0xAA, L is above k_max_data, the byte after the checksum is not 0x16,
// or the checksum is wrong.
FrameScan scan_frame(std::span<const std::uint8_t> buf);

// Exactly one frame (a preamble and skipped bytes before it allowed, nothing after it), for
// tests, the fuzzer and replies read whole. Errors are Exit::failed: "bad frame: <why>",
// "incomplete frame: need more bytes" or "bad frame: N bytes after the end".
Result<Frame> decode_frame(std::span<const std::uint8_t> bytes);

// Error replies ----------------------------------------------------------------------------------

// An error reply (C = 0xD1, 0xDC, ...) carries one data byte, the error status word SERR. Its
// bits, as DL/T 645-2007 lists them (bit 7 is reserved):
inline constexpr std::uint8_t k_error_other = 0x01;           // other error
inline constexpr std::uint8_t k_error_no_data = 0x02;         // no requested data
inline constexpr std::uint8_t k_error_unauthorised = 0x04;    // wrong password or not authorised
inline constexpr std::uint8_t k_error_baud_rate = 0x08;       // communication rate cannot change
inline constexpr std::uint8_t k_error_year_zones = 0x10;      // year time zone count exceeded
inline constexpr std::uint8_t k_error_daily_periods = 0x20;   // daily period count exceeded
inline constexpr std::uint8_t k_error_tariffs = 0x40;         // tariff count exceeded

// "the meter refused: wrong password or not authorised"; bits set together are listed in order
// ("the meter refused: other error, no requested data").
std::string describe_error_word(std::uint8_t word);

// The error word of an error reply from a meter: set when the frame is from a meter, abnormal,
// and has exactly one data byte.
std::optional<std::uint8_t> error_word(const Frame& frame);

// Requests ---------------------------------------------------------------------------------------

// Read data: C = 0x11, data = the 4-byte data identifier, lowest byte first (DI 0x00010000 is
// 00 00 01 00).
Frame read_request(const Address& meter, std::uint32_t di);

// Read address: C = 0x13, to AAAAAAAAAAAA, no data. Only one meter may be on the bus.
Frame read_address_request();

// Broadcast time: C = 0x08, to 999999999999, data ss mm hh DD MM YY in BCD. Meters do not reply.
// Throws Error(usage) for a time outside 2000..2099 or a field out of range.
Frame broadcast_time_request(const LocalTime& t);

// N1 of a relay control request.
enum class RelayAction : std::uint8_t {
  trip = 0x1A,          // switch the supply off (跳闸)
  close_allowed = 0x1B, // allow closing: the tenant closes it at the meter (合闸允许)
  close = 0x1C,         // close directly (直接合闸)
  alarm_on = 0x2A,      // 报警
  alarm_off = 0x2B,     // 报警解除
  protect_on = 0x3A,    // protect: the meter will not trip until protect_off (保电)
  protect_off = 0x3B,   // 保电解除
};
std::string relay_action_name(RelayAction a);

struct RelayCommand {
  RelayAction action = RelayAction::trip;
  // PA (the password's privilege level), then P0..P2, exactly as sent.
  std::array<std::uint8_t, 4> password{0x02, 0x00, 0x00, 0x00};
  // The operator code C0..C3, exactly as sent.
  std::array<std::uint8_t, 4> operator_code{};
  // The command is void after this site-local time (N3..N8, ss mm hh DD MM YY).
  LocalTime valid_until;
};

// Relay control: C = 0x1C, data PA P0 P1 P2, C0..C3, N1 (the action), N2 = 0, N3..N8 (valid
// until). Throws Error(usage) for a valid_until outside 2000..2099 or with a field out of range.
// Meters whose control commands are encrypted (ESAM, privilege level 0x98) want more than this.
Frame relay_request(const Address& meter, const RelayCommand& cmd);

// Replies ----------------------------------------------------------------------------------------

// The answer to a read: the identifier it echoes and the value bytes after it (lowest first, as
// identifiers.hpp decodes them).
struct ReadReply {
  std::uint32_t di = 0;
  std::vector<std::uint8_t> value;
  bool more = false; // C = 0xB1: follow-up frames (read_follow_up) hold the rest
};

// Checks that `reply` answers read_request(meter, di). Errors are Exit::failed: an error reply
// is describe_error_word(); a request, another meter's reply, another function or identifier,
// or too few data bytes are "not the reply: ...".
Result<ReadReply> decode_read_reply(const Frame& reply, const Address& meter, std::uint32_t di);

// The address in the reply to read_address_request() (C = 0x93, data = the address again).
Result<Address> decode_address_reply(const Frame& reply);

// nullopt when `reply` says the meter carried out relay_request(meter, ...) (C = 0x9C, no
// data); otherwise why not, as decode_read_reply() words it.
std::optional<Error> check_relay_reply(const Frame& reply, const Address& meter);

// The meter's side, for the simulator and round-trip tests: a read reply (C = 0x91, or 0xB1 with
// more) and an error reply (C = 0xC0 | function, one byte).
Frame read_reply(const Address& meter, std::uint32_t di, std::span<const std::uint8_t> value, bool more = false);
Frame error_reply(const Address& meter, Function f, std::uint8_t word);

} // namespace kwh::dlt645
