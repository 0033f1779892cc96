#include <kwh/dlt645/frame.hpp>

#include <fmt/format.h>

namespace kwh::dlt645 {

namespace {

constexpr std::uint8_t k_start = 0x68;
constexpr std::uint8_t k_end = 0x16;
constexpr std::uint8_t k_preamble = 0xFE;
constexpr std::uint8_t k_wildcard = 0xAA;
constexpr std::uint8_t k_offset = 0x33;

bool is_bcd(std::uint8_t b) { return (b >> 4) <= 9 && (b & 0x0F) <= 9; }

std::uint8_t to_bcd(int v) { return static_cast<std::uint8_t>((v / 10) << 4 | (v % 10)); }

void put_di(std::vector<std::uint8_t>& out, std::uint32_t di) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(di >> (8 * i)));
}

std::uint32_t get_di(std::span<const std::uint8_t> b) {
  return static_cast<std::uint32_t>(b[0]) | static_cast<std::uint32_t>(b[1]) << 8 |
         static_cast<std::uint32_t>(b[2]) << 16 | static_cast<std::uint32_t>(b[3]) << 24;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// ss mm hh DD MM YY, BCD, as broadcast time and relay control carry a time.
void put_time(std::vector<std::uint8_t>& out, const LocalTime& t, const char* what) {
  static constexpr int k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (t.year < 2000 || t.year > 2099 || t.month < 1 || t.month > 12 || t.day < 1 || t.hour < 0 || t.hour > 23 ||
      t.minute < 0 || t.minute > 59 || t.second < 0 || t.second > 59 ||
      t.day > k_days[t.month - 1] + (t.month == 2 && leap(t.year) ? 1 : 0))
    fail(Exit::usage, "{}: {:04}-{:02}-{:02} {:02}:{:02}:{:02} is not a time a meter can hold (2000..2099)", what,
         t.year, t.month, t.day, t.hour, t.minute, t.second);
  for (int v : {t.second, t.minute, t.hour, t.day, t.month, t.year - 2000}) out.push_back(to_bcd(v));
}

FrameScan invalid(std::size_t drop, std::string why) {
  FrameScan s;
  s.status = FrameScan::Status::invalid;
  s.size = drop;
  s.problem = std::move(why);
  return s;
}

Error not_reply(std::string why) { return Error(Exit::failed, "not the reply: " + why); }

// What every reply check starts with: a reply, from the meter asked, to function f; an error
// reply becomes its error word's message.
std::optional<Error> check_reply(const Frame& reply, const Address& meter, Function f) {
  if (!reply.control.from_meter())
    return not_reply(fmt::format("a request (control 0x{:02X})", reply.control.byte));
  if (!meter.matches(reply.address))
    return not_reply(fmt::format("from meter {}, asked {}", reply.address.format(), meter.format()));
  if (reply.control.function() != f)
    return not_reply(fmt::format("{} reply, expected {}", function_name(reply.control.function()), function_name(f)));
  if (reply.control.abnormal()) {
    if (auto word = error_word(reply)) return Error(Exit::failed, describe_error_word(*word));
    return not_reply(fmt::format("error reply with {} data bytes, expected 1", reply.data.size()));
  }
  return std::nullopt;
}

} // namespace

// Address ----------------------------------------------------------------------------------------

Result<Address> Address::parse(std::string_view text) {
  auto bad = [&] {
    return Error(Exit::data, fmt::format("meter address '{}': must be 12 decimal digits", text));
  };
  if (text.size() != 2 * k_size) return bad();
  std::array<std::uint8_t, k_size> bytes{};
  for (std::size_t i = 0; i < k_size; ++i) {
    // The text is most significant first; the wire is least significant first.
    char hi = text[2 * i], lo = text[2 * i + 1];
    auto& b = bytes[k_size - 1 - i];
    if ((hi == 'A' || hi == 'a') && (lo == 'A' || lo == 'a'))
      b = k_wildcard;
    else if (hi >= '0' && hi <= '9' && lo >= '0' && lo <= '9')
      b = static_cast<std::uint8_t>((hi - '0') << 4 | (lo - '0'));
    else
      return bad();
  }
  return Address(bytes);
}

Result<Address> Address::from_wire(std::span<const std::uint8_t> bytes) {
  if (bytes.size() != k_size)
    return Error(Exit::data, fmt::format("meter address of {} bytes, expected {}", bytes.size(), k_size));
  std::array<std::uint8_t, k_size> a{};
  for (std::size_t i = 0; i < k_size; ++i) {
    if (!is_bcd(bytes[i]) && bytes[i] != k_wildcard)
      return Error(Exit::data, fmt::format("address byte 0x{:02X} is neither BCD nor 0xAA", bytes[i]));
    a[i] = bytes[i];
  }
  return Address(a);
}

std::string Address::format() const {
  std::string s;
  for (std::size_t i = k_size; i-- > 0;) s += fmt::format("{:02X}", m_bytes[i]);
  return s;
}

bool Address::has_wildcard() const {
  for (auto b : m_bytes)
    if (b == k_wildcard) return true;
  return false;
}

bool Address::matches(const Address& from) const {
  for (std::size_t i = 0; i < k_size; ++i)
    if (m_bytes[i] != k_wildcard && m_bytes[i] != from.m_bytes[i]) return false;
  return true;
}

// Control ----------------------------------------------------------------------------------------

std::string function_name(Function f) {
  switch (f) {
  case Function::broadcast_time: return "broadcast time";
  case Function::read_data: return "read data";
  case Function::read_follow_up: return "read follow-up";
  case Function::read_address: return "read address";
  case Function::write_data: return "write data";
  case Function::write_address: return "write address";
  case Function::freeze: return "freeze";
  case Function::change_baud_rate: return "change baud rate";
  case Function::change_password: return "change password";
  case Function::clear_demand: return "clear maximum demand";
  case Function::clear_meter: return "clear meter";
  case Function::clear_events: return "clear events";
  case Function::relay_control: return "relay control";
  case Function::output_control: return "output control";
  }
  return fmt::format("function 0x{:02X}", static_cast<std::uint8_t>(f));
}

std::string relay_action_name(RelayAction a) {
  switch (a) {
  case RelayAction::trip: return "trip";
  case RelayAction::close_allowed: return "allow closing";
  case RelayAction::close: return "close";
  case RelayAction::alarm_on: return "alarm on";
  case RelayAction::alarm_off: return "alarm off";
  case RelayAction::protect_on: return "protect on";
  case RelayAction::protect_off: return "protect off";
  }
  return fmt::format("action 0x{:02X}", static_cast<std::uint8_t>(a));
}

// Frames -----------------------------------------------------------------------------------------

std::string Frame::describe() const {
  const char* kind = !control.from_meter() ? "request" : control.abnormal() ? "error reply" : "reply";
  return fmt::format("{} {}{} {} {}, {} data byte{}", function_name(control.function()), kind,
                     control.more_follows() ? " (more follows)" : "", control.from_meter() ? "from" : "to",
                     address.format(), data.size(), data.size() == 1 ? "" : "s");
}

std::uint8_t checksum(std::span<const std::uint8_t> bytes) {
  unsigned sum = 0;
  for (auto b : bytes) sum += b;
  return static_cast<std::uint8_t>(sum & 0xFF);
}

std::vector<std::uint8_t> encode_frame(const Frame& frame, std::size_t preamble) {
  if (frame.data.size() > k_max_data)
    fail(Exit::usage, "DL/T 645 frame with {} data bytes; at most {}", frame.data.size(), k_max_data);
  std::vector<std::uint8_t> out(preamble, k_preamble);
  out.reserve(preamble + k_overhead + frame.data.size());
  const std::size_t start = out.size();
  out.push_back(k_start);
  out.insert(out.end(), frame.address.wire().begin(), frame.address.wire().end());
  out.push_back(k_start);
  out.push_back(frame.control.byte);
  out.push_back(static_cast<std::uint8_t>(frame.data.size()));
  for (auto d : frame.data) out.push_back(static_cast<std::uint8_t>(d + k_offset));
  out.push_back(checksum(std::span(out).subspan(start)));
  out.push_back(k_end);
  return out;
}

std::string FrameScan::describe() const {
  switch (status) {
  case Status::incomplete: return "incomplete, need more bytes";
  case Status::invalid: return "bad frame: " + problem;
  case Status::complete: return "frame: " + frame.describe();
  }
  return "?";
}

FrameScan scan_frame(std::span<const std::uint8_t> buf) {
  std::size_t start = 0;
  while (start < buf.size() && buf[start] != k_start) ++start;
  auto f = buf.subspan(start);
  // Dropping through the first 0x68 lets a reader look for the next one.
  const std::size_t drop = start + 1;
  if (f.size() < 8) return {};
  if (f[7] != k_start) return invalid(drop, fmt::format("byte 0x{:02X} where the second 0x68 belongs", f[7]));
  auto address = Address::from_wire(f.subspan(1, Address::k_size));
  if (!address) return invalid(drop, address.error().what());
  if (f.size() < 10) return {};
  const std::size_t length = f[9];
  if (length > k_max_data) return invalid(drop, fmt::format("L = {}, above the standard's {}", length, k_max_data));
  const std::size_t total = k_overhead + length;
  if (f.size() < total) return {};
  if (f[total - 1] != k_end)
    return invalid(drop, fmt::format("end byte 0x{:02X}, expected 0x16 after {} data bytes", f[total - 1], length));
  const std::uint8_t sum = checksum(f.first(total - 2));
  if (f[total - 2] != sum) return invalid(drop, fmt::format("checksum 0x{:02X}, computed 0x{:02X}", f[total - 2], sum));

  FrameScan s;
  s.status = FrameScan::Status::complete;
  s.size = start + total;
  s.frame.address = *address;
  s.frame.control.byte = f[8];
  s.frame.data.reserve(length);
  for (auto d : f.subspan(10, length)) s.frame.data.push_back(static_cast<std::uint8_t>(d - k_offset));
  return s;
}

Result<Frame> decode_frame(std::span<const std::uint8_t> bytes) {
  FrameScan s = scan_frame(bytes);
  switch (s.status) {
  case FrameScan::Status::incomplete: return Error(Exit::failed, "incomplete frame: need more bytes");
  case FrameScan::Status::invalid: return Error(Exit::failed, "bad frame: " + s.problem);
  case FrameScan::Status::complete: break;
  }
  if (s.size != bytes.size())
    return Error(Exit::failed, fmt::format("bad frame: {} bytes after the end", bytes.size() - s.size));
  return std::move(s.frame);
}

// Error replies ----------------------------------------------------------------------------------

std::string describe_error_word(std::uint8_t word) {
  static constexpr const char* k_bits[] = {
      "other error",
      "no requested data",
      "wrong password or not authorised",
      "communication rate cannot change",
      "year time zone count exceeded",
      "daily period count exceeded",
      "tariff count exceeded",
      "reserved bit 7",
  };
  if (word == 0) return "the meter refused without saying why (error word 0x00)";
  std::string out = "the meter refused: ";
  bool first = true;
  for (int bit = 0; bit < 8; ++bit) {
    if (!(word & (1u << bit))) continue;
    if (!first) out += ", ";
    out += k_bits[bit];
    first = false;
  }
  return out;
}

std::optional<std::uint8_t> error_word(const Frame& frame) {
  if (!frame.control.from_meter() || !frame.control.abnormal() || frame.data.size() != 1) return std::nullopt;
  return frame.data[0];
}

// Requests ---------------------------------------------------------------------------------------

Frame read_request(const Address& meter, std::uint32_t di) {
  Frame f{meter, Control::request(Function::read_data), {}};
  put_di(f.data, di);
  return f;
}

Frame read_address_request() { return {Address::wildcard(), Control::request(Function::read_address), {}}; }

Frame broadcast_time_request(const LocalTime& t) {
  Frame f{Address::broadcast(), Control::request(Function::broadcast_time), {}};
  put_time(f.data, t, "broadcast time");
  return f;
}

Frame relay_request(const Address& meter, const RelayCommand& cmd) {
  Frame f{meter, Control::request(Function::relay_control), {}};
  f.data.insert(f.data.end(), cmd.password.begin(), cmd.password.end());
  f.data.insert(f.data.end(), cmd.operator_code.begin(), cmd.operator_code.end());
  f.data.push_back(static_cast<std::uint8_t>(cmd.action));
  f.data.push_back(0x00); // N2, reserved
  put_time(f.data, cmd.valid_until, "relay command valid until");
  return f;
}

// Replies ----------------------------------------------------------------------------------------

Result<ReadReply> decode_read_reply(const Frame& reply, const Address& meter, std::uint32_t di) {
  if (auto e = check_reply(reply, meter, Function::read_data)) return *e;
  if (reply.data.size() < 4)
    return not_reply(fmt::format("read reply with {} data bytes, too few for an identifier", reply.data.size()));
  ReadReply r;
  r.di = get_di(reply.data);
  if (r.di != di) return not_reply(fmt::format("value of DI 0x{:08X}, asked 0x{:08X}", r.di, di));
  r.value.assign(reply.data.begin() + 4, reply.data.end());
  r.more = reply.control.more_follows();
  return r;
}

Result<Address> decode_address_reply(const Frame& reply) {
  if (auto e = check_reply(reply, Address::wildcard(), Function::read_address)) return *e;
  if (reply.data.size() != Address::k_size)
    return not_reply(fmt::format("address reply with {} data bytes, expected 6", reply.data.size()));
  auto address = Address::from_wire(reply.data);
  if (!address) return not_reply(address.error().what());
  if (*address != reply.address || address->has_wildcard())
    return not_reply(fmt::format("address reply from {} carrying {}", reply.address.format(), address->format()));
  return address;
}

std::optional<Error> check_relay_reply(const Frame& reply, const Address& meter) {
  if (auto e = check_reply(reply, meter, Function::relay_control)) return e;
  if (!reply.data.empty())
    return not_reply(fmt::format("relay control reply with {} data bytes, expected none", reply.data.size()));
  return std::nullopt;
}

Frame read_reply(const Address& meter, std::uint32_t di, std::span<const std::uint8_t> value, bool more) {
  Frame f{meter, Control::reply(Function::read_data, more), {}};
  put_di(f.data, di);
  f.data.insert(f.data.end(), value.begin(), value.end());
  return f;
}

Frame error_reply(const Address& meter, Function f, std::uint8_t word) {
  return {meter, Control::error_reply(f), {word}};
}

} // namespace kwh::dlt645
