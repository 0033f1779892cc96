#pragma once
// SHA-256 (FIPS 180-4, section 6.2), written for kwh. It hashes the audit log and the ledger
// into chains so that a row edited behind kwh's back is found. No secret is involved: the
// chains detect changes, they do not authenticate anyone.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kwh {

using Sha256Digest = std::array<std::uint8_t, 32>;

// Incremental hashing: update() any number of times, then finish() once.
class Sha256 {
public:
  Sha256();

  Sha256& update(std::string_view data);
  Sha256& update(const std::uint8_t* data, std::size_t size);
  // Pads, processes the last block and returns the digest. The object must not be used
  // afterwards except to be reset().
  Sha256Digest finish();
  void reset();

private:
  void process_block(const std::uint8_t* block);

  std::array<std::uint32_t, 8> m_state{};
  std::array<std::uint8_t, 64> m_buffer{};
  std::size_t m_buffered = 0;
  std::uint64_t m_total_bytes = 0;
};

Sha256Digest sha256(std::string_view data);

// Lower-case hexadecimal, 64 characters.
std::string to_hex(const Sha256Digest& digest);

// sha256 followed by to_hex, the form stored in the database.
std::string sha256_hex(std::string_view data);

} // namespace kwh
