// Fuzzes the DL/T 645 frame scanner and the value decoders with arbitrary bytes: they must never
// read out of bounds or crash, a scan never claims more bytes than it was given, and whatever
// decodes is exactly a frame (re-encoding it gives back the same bytes) or a value (encoding the
// number gives back the same bytes).

#include <kwh/dlt645/frame.hpp>
#include <kwh/dlt645/identifiers.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

using namespace kwh::dlt645;

namespace {

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_dlt645: %s\n", what);
  std::abort();
}

// Reading a stream the way a reader would: frame after frame, dropping what is invalid.
void scan_stream(std::span<const std::uint8_t> buf) {
  while (!buf.empty()) {
    FrameScan s = scan_frame(buf);
    if (s.status == FrameScan::Status::incomplete) {
      require(s.size == 0, "an incomplete scan consumed bytes");
      return;
    }
    require(s.size >= 1 && s.size <= buf.size(), "a scan claimed more bytes than there are");
    if (s.status == FrameScan::Status::invalid) {
      require(!s.problem.empty(), "a bad frame without a reason");
      buf = buf.subspan(s.size);
      continue;
    }
    const Frame& f = s.frame;
    const std::size_t length = k_overhead + f.data.size();
    require(length <= s.size, "a frame longer than what the scan consumed");
    auto again = encode_frame(f, 0);
    auto original = buf.subspan(s.size - length, length);
    require(std::equal(again.begin(), again.end(), original.begin(), original.end()),
            "re-encoding a decoded frame changed its bytes");
    // The skipped bytes hold no 0x68: the frame starts at the first one.
    auto skipped = buf.first(s.size - length);
    require(std::find(skipped.begin(), skipped.end(), 0x68) == skipped.end(), "skipped over a 0x68");

    // Whatever the frame is, the reply checks answer without crashing.
    (void)decode_read_reply(f, f.address, f.data.size() >= 4 ? 0x00010000u : 0u);
    (void)decode_address_reply(f);
    (void)check_relay_reply(f, Address::wildcard());
    if (auto w = error_word(f)) require(!describe_error_word(*w).empty(), "an empty error message");
    (void)f.describe();
    buf = buf.subspan(s.size);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> all(data, size);
  scan_stream(all);

  // Whole-buffer decoding agrees with the scanner.
  auto whole = decode_frame(all);
  if (whole.ok()) {
    FrameScan s = scan_frame(all);
    require(s.status == FrameScan::Status::complete && s.size == size, "decode_frame and scan_frame disagree");
  }

  // The first byte picks an identifier; the bytes after it are its value.
  if (size >= 1) {
    auto table = identifiers();
    const Identifier& id = table[data[0] % table.size()];
    auto bytes = all.subspan(1, std::min<std::size_t>(size - 1, id.bytes + 1u));
    auto v = decode_value(id, bytes);
    if (bytes.size() != id.bytes) require(!v.ok(), "decoded a value from the wrong number of bytes");
    if (v.ok()) {
      auto back = encode_value(id, v->raw);
      require(back.ok(), "a decoded value does not encode");
      // A negative zero (sign bit on zero digits) encodes as plain zero.
      const bool negative_zero = v->raw == 0 && id.encoding == Encoding::bcd_signed && (bytes.back() & 0x80);
      if (!negative_zero)
        require(std::equal(back->begin(), back->end(), bytes.begin(), bytes.end()), "value round trip changed the bytes");
      if (id.exponent >= 0) require(v->integer.has_value(), "a whole unit without an integer");
    }
    for (std::size_t n = 0; n <= std::min<std::size_t>(size - 1, 10); ++n) {
      auto b = decode_bcd(all.subspan(1, n), (data[0] & 0x80) != 0);
      if (b.ok()) {
        auto back = encode_bcd(*b, n, (data[0] & 0x80) != 0);
        require(back.ok(), "a decoded BCD number does not encode");
      }
    }
  }

  // Addresses as text: parse and format agree.
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto a = Address::parse(text); a.ok()) {
    auto again = Address::parse(a->format());
    require(again.ok() && *again == *a, "an address does not survive format and parse");
  }
  return 0;
}
