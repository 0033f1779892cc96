// Fuzzes the Modbus reply decoders (TCP and RTU) and the simulator's request decoders with
// arbitrary bytes: they must never crash, and whatever they accept must be exactly a frame that
// answers the request (re-encoding the decoded reply gives back the same bytes).

#include <kwh/transport/frame.hpp>

#include <cstdint>
#include <cstdlib>
#include <span>

using namespace kwh::transport;

namespace {

// The first 6 bytes choose the request the bytes are taken to answer.
Request request_from(std::span<const std::uint8_t> head) {
  static constexpr Function k_functions[] = {Function::read_coils,          Function::read_discrete,
                                             Function::read_holding,        Function::read_input,
                                             Function::write_single_coil,   Function::write_single_register,
                                             Function::write_multiple_registers};
  Request r;
  r.function = k_functions[head[0] % 7];
  r.unit = head[1];
  r.address = static_cast<std::uint16_t>(head[2] << 8 | head[3]);
  std::uint16_t n = static_cast<std::uint16_t>(head[4] % 125 + 1);
  r.count = n;
  if (r.function == Function::write_single_coil || r.function == Function::write_single_register) {
    r.count = 1;
    r.values = {head[5]};
  } else if (r.function == Function::write_multiple_registers) {
    r.count = static_cast<std::uint16_t>(n % 123 + 1);
    r.values.assign(r.count, head[5]);
  }
  return r;
}

void check(bool ok) {
  if (!ok) std::abort();
}

bool bits(Function f) { return f == Function::read_coils || f == Function::read_discrete; }

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  std::span<const std::uint8_t> all(data, size);
  Request req = request_from(all.first(6));
  std::uint16_t tid = static_cast<std::uint16_t>(data[6] << 8 | data[7]);
  auto frame = all.subspan(8);

  auto tcp = decode_tcp_response(req, tid, frame);
  if (tcp.ok()) {
    if (bits(req.function)) check(tcp->bits.size() == req.count);
    else if (is_read(req.function)) check(tcp->words.size() == req.count);
    if (!bits(req.function)) {
      auto again = wrap_tcp(tid, req.unit, encode_response_pdu(req, *tcp));
      check(std::equal(again.begin(), again.end(), frame.begin(), frame.end()));
    }
  } else {
    check(!tcp.failure().describe().empty());
  }

  auto rtu = decode_rtu_response(req, frame);
  if (rtu.ok()) {
    if (bits(req.function)) check(rtu->bits.size() == req.count);
    else if (is_read(req.function)) check(rtu->words.size() == req.count);
    if (!bits(req.function)) {
      auto again = wrap_rtu(req.unit, encode_response_pdu(req, *rtu));
      check(std::equal(again.begin(), again.end(), frame.begin(), frame.end()));
    }
  }

  // Scanning any prefix never claims more bytes than there are.
  for (std::size_t n : {std::size_t(0), frame.size() / 2, frame.size()}) {
    auto s1 = scan_tcp_frame(frame.first(n));
    if (s1.status == FrameScan::Status::complete) check(s1.size <= n && s1.pdu.size() + 7 == s1.size);
    auto s2 = scan_rtu_response(req, frame.first(n));
    if (s2.status == FrameScan::Status::complete) check(s2.size <= n && s2.pdu.size() + 3 == s2.size);
    auto s3 = scan_rtu_request(frame.first(n));
    if (s3.status == FrameScan::Status::complete) {
      check(s3.size <= n);
      auto parsed = decode_request_pdu(s3.unit, s3.pdu);
      if (parsed.ok()) check(encode_request_pdu(*parsed).size() == s3.pdu.size());
    }
  }

  // The simulator's side: any PDU either decodes to a request it can answer, or to an exception.
  auto server = decode_request_pdu(data[1], frame);
  if (server.ok()) {
    Response resp;
    resp.words.assign(server->count, 0x1234);
    resp.bits.assign(server->count, true);
    auto pdu = encode_response_pdu(*server, resp);
    check(decode_response_pdu(*server, pdu).ok());
  } else {
    auto code = server.failure().exception_code;
    check(code == 1 || code == 3);
  }
  return 0;
}
