#include <kwh/readings/codec.hpp>

#include <bit>
#include <cassert>
#include <limits>

namespace kwh::readings {

namespace {

constexpr unsigned k_head_bands = 0x0f;
constexpr unsigned k_head_power = 0x10;
constexpr unsigned k_head_flags_shift = 5;
constexpr unsigned k_head_reserved = 0x80;

constexpr unsigned k_changed_bands = 0x0f;
constexpr unsigned k_changed_implied = 0x10;
constexpr unsigned k_changed_reserved = 0xe0;

constexpr std::size_t k_max_varint = 10;
// head, time, value, c, four bands, power.
constexpr std::size_t k_max_record = 1 + k_max_varint + k_max_varint + 1 + 4 * k_max_varint + k_max_varint;

// Most blocks hold hours to days of minute readings at 5 or 6 bytes each.
constexpr std::size_t k_initial_capacity = 1024;

// In the order of the head's and c's bits.
constexpr std::optional<std::int64_t> Reading::*k_bands[4] = {&Reading::sharp, &Reading::peak, &Reading::flat,
                                                               &Reading::valley};

std::uint64_t zigzag(std::uint64_t delta) { return (delta << 1) ^ (0 - (delta >> 63)); }
std::uint64_t unzigzag(std::uint64_t z) { return (z >> 1) ^ (0 - (z & 1)); }

unsigned char* put_varint(unsigned char* p, std::uint64_t delta) {
  std::uint64_t v = zigzag(delta);
  while (v >= 0x80) {
    *p++ = static_cast<unsigned char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<unsigned char>(v);
  return p;
}

bool get_varint(const unsigned char*& p, const unsigned char* end, std::uint64_t& delta) {
  std::uint64_t v = 0;
  for (unsigned shift = 0; p != end; shift += 7) {
    const unsigned b = *p++;
    // The 10th byte holds bit 63 only, and nothing may follow it.
    if (shift == 63 && b > 1) return false;
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      delta = unzigzag(v);
      return true;
    }
  }
  return false;
}

// Writes the record of r against state s into buf (k_max_record bytes) and returns its size.
std::size_t encode_record(const BlockState& s, const Reading& r, unsigned char* buf) {
  unsigned head = static_cast<unsigned>(r.flags) << k_head_flags_shift;
  for (unsigned i = 0; i < 4; ++i)
    if (r.*k_bands[i]) head |= 1u << i;
  if (r.power) head |= k_head_power;

  unsigned char* p = buf;
  *p++ = static_cast<unsigned char>(head);
  p = put_varint(p, static_cast<std::uint64_t>(r.t) - s.t);
  const std::uint64_t value_delta = static_cast<std::uint64_t>(r.value) - s.value;
  p = put_varint(p, value_delta);

  if ((head & k_head_bands) != 0) {
    std::uint64_t deltas[4] = {};
    unsigned changed = 0;
    for (unsigned i = 0; i < 4; ++i) {
      if (!(r.*k_bands[i])) continue;
      deltas[i] = static_cast<std::uint64_t>(*(r.*k_bands[i])) - s.band[i];
      if (deltas[i] != 0) changed |= 1u << i;
    }
    const bool implied = std::has_single_bit(changed) && deltas[std::countr_zero(changed)] == value_delta;
    *p++ = static_cast<unsigned char>(changed | (implied ? k_changed_implied : 0));
    if (!implied)
      for (unsigned i = 0; i < 4; ++i)
        if ((changed & (1u << i)) != 0) p = put_varint(p, deltas[i]);
  }

  if (r.power) p = put_varint(p, static_cast<std::uint64_t>(*r.power) - s.power);
  return static_cast<std::size_t>(p - buf);
}

void advance(BlockState& s, const Reading& r) {
  s.t = static_cast<std::uint64_t>(r.t);
  s.value = static_cast<std::uint64_t>(r.value);
  for (unsigned i = 0; i < 4; ++i)
    if (r.*k_bands[i]) s.band[i] = static_cast<std::uint64_t>(*(r.*k_bands[i]));
  if (r.power) s.power = static_cast<std::uint64_t>(*r.power);
}

} // namespace

void BlockEncoder::clear() {
  m_data.clear();
  m_count = 0;
  m_first_time = 0;
  m_state = {};
}

void BlockEncoder::add(const Reading& r) {
  // A gap beyond INT64_MAX would wrap to a negative delta, which no decoder accepts.
  assert(m_count == 0 || (r.t > static_cast<UnixTime>(m_state.t) &&
                          static_cast<std::uint64_t>(r.t) - m_state.t <=
                              static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())));
  assert(r.flags >= 0 && r.flags <= (k_flag_imported | k_flag_baseline));
  if (m_data.capacity() < k_initial_capacity) m_data.reserve(k_initial_capacity);

  unsigned char buf[k_max_record];
  const std::size_t n = encode_record(m_state, r, buf);
  m_data.append(reinterpret_cast<const char*>(buf), n);
  advance(m_state, r);
  if (m_count == 0) m_first_time = r.t;
  ++m_count;
}

UnixTime BlockEncoder::first_time() const {
  assert(m_count > 0);
  return m_first_time;
}

UnixTime BlockEncoder::last_time() const {
  assert(m_count > 0);
  return static_cast<UnixTime>(m_state.t);
}

std::size_t BlockEncoder::size_if_added(const Reading& r) const {
  unsigned char buf[k_max_record];
  return m_data.size() + encode_record(m_state, r, buf);
}

BlockDecoder::BlockDecoder(std::string_view data)
    : m_pos(reinterpret_cast<const unsigned char*>(data.data())), m_end(m_pos + data.size()) {}

bool BlockDecoder::next(Reading& out) {
  if (m_failed || m_pos == m_end) return false;
  // Decoded aside, so that out is untouched when the record turns out to be malformed.
  Reading r;
  if (!decode_record(r)) {
    m_failed = true;
    return false;
  }
  m_started = true;
  out = r;
  return true;
}

// Reads one record into out and advances the state; false on malformed input, after which the
// state is of no further use.
bool BlockDecoder::decode_record(Reading& out) {
  const unsigned head = *m_pos++;
  if ((head & k_head_reserved) != 0) return false;

  std::uint64_t t_delta = 0;
  if (!get_varint(m_pos, m_end, t_delta)) return false;
  const std::uint64_t t = m_state.t + t_delta;
  if (m_started) {
    // Signed, the delta must be > 0 and the sum must not wrap past INT64_MAX.
    if (static_cast<std::int64_t>(t_delta) <= 0) return false;
    if (static_cast<std::int64_t>(t) <= static_cast<std::int64_t>(m_state.t)) return false;
  }
  std::uint64_t value_delta = 0;
  if (!get_varint(m_pos, m_end, value_delta)) return false;

  out.t = static_cast<UnixTime>(t);
  out.value = static_cast<std::int64_t>(m_state.value + value_delta);
  out.flags = static_cast<int>(head >> k_head_flags_shift);

  const unsigned present = head & k_head_bands;
  if (present != 0) {
    if (m_pos == m_end) return false;
    const unsigned c = *m_pos++;
    const unsigned changed = c & k_changed_bands;
    const bool implied = (c & k_changed_implied) != 0;
    if ((c & k_changed_reserved) != 0 || (changed & ~present) != 0) return false;
    if (implied && !std::has_single_bit(changed)) return false;
    for (unsigned i = 0; i < 4; ++i) {
      std::optional<std::int64_t>& band = out.*k_bands[i];
      if ((present & (1u << i)) == 0) {
        band.reset();
        continue;
      }
      std::uint64_t delta = 0;
      if ((changed & (1u << i)) != 0) {
        if (implied)
          delta = value_delta;
        else if (!get_varint(m_pos, m_end, delta))
          return false;
      }
      m_state.band[i] += delta;
      band = static_cast<std::int64_t>(m_state.band[i]);
    }
  } else {
    for (auto member : k_bands) (out.*member).reset();
  }

  if ((head & k_head_power) != 0) {
    std::uint64_t delta = 0;
    if (!get_varint(m_pos, m_end, delta)) return false;
    m_state.power += delta;
    out.power = static_cast<std::int64_t>(m_state.power);
  } else {
    out.power.reset();
  }

  m_state.t = t;
  m_state.value += value_delta;
  return true;
}

bool decode_block(std::string_view data, std::vector<Reading>& out) {
  const std::size_t old_size = out.size();
  BlockDecoder decoder(data);
  Reading r;
  while (decoder.next(r)) out.push_back(r);
  if (decoder.failed()) {
    out.resize(old_size);
    return false;
  }
  return true;
}

} // namespace kwh::readings
