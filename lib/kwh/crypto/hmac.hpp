#pragma once
// Keyed hashes, random secrets and comparisons for what must authenticate: the tenant's login
// links, the payment webhooks' signatures and the session cookies of `kwh serve`. Everything
// comes from OpenSSL's libcrypto (EVP_MAC, RAND_bytes, CRYPTO_memcmp); nothing here is
// hand-written cryptography.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kwh::crypto {

using Mac = std::array<std::uint8_t, 32>;

// HMAC-SHA256 (RFC 2104) of `data` under `key`.
Mac hmac_sha256(std::string_view key, std::string_view data);

// Starts libcrypto as kwh needs it, before its first use (idempotent, thread-safe): without
// the legacy tables of every cipher and digest name, which the first fetch of an algorithm
// would otherwise fill and copy (about 5 million instructions, a quarter of a `kwh sell`),
// and without reading openssl.cnf: kwh uses only SHA-256, HMAC and random bytes from the
// default provider.
void init_openssl();

// `n` bytes from the system's cryptographically secure generator. Throws when it fails.
std::string random_bytes(std::size_t n);

// Equal length and equal bytes, in time that depends only on the length.
bool equal(std::string_view a, std::string_view b);

// Lower-case hexadecimal.
std::string to_hex(const std::uint8_t* data, std::size_t size);
std::string to_hex(std::string_view bytes);
// Hexadecimal (either case) to bytes; nullopt for an odd length or another character.
std::optional<std::string> from_hex(std::string_view hex);

// URL-safe base64 without padding (RFC 4648 section 5), for tokens in links and cookies.
std::string to_base64url(std::string_view bytes);
std::optional<std::string> from_base64url(std::string_view text);

} // namespace kwh::crypto
