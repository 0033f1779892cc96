#pragma once
// SHA-256 from OpenSSL's libcrypto. It hashes the audit log, the ledger and the billing
// accumulators into chains so that a row edited behind kwh's back is found. No secret is
// involved there: the chains detect changes, they do not authenticate anyone (hmac.hpp does).

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
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  Sha256& update(std::string_view data);
  Sha256& update(const std::uint8_t* data, std::size_t size);
  // Returns the digest. The object must not be used afterwards except to be reset().
  Sha256Digest finish();
  void reset();

private:
  struct Context;
  Context* m_ctx;
};

Sha256Digest sha256(std::string_view data);

// Lower-case hexadecimal, 64 characters.
std::string to_hex(const Sha256Digest& digest);

// sha256 followed by to_hex, the form stored in the database.
std::string sha256_hex(std::string_view data);

} // namespace kwh
