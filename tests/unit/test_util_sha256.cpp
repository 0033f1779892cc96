#include <doctest/doctest.h>

#include <kwh/util/sha256.hpp>

#include <string>

using kwh::Sha256;
using kwh::sha256_hex;

// Expected digests are the examples published with FIPS 180-4 (NIST CSRC "Examples with
// intermediate values", SHA-256) and the one-million-'a' vector of FIPS 180-2 appendix B.3.
TEST_CASE("SHA-256: the FIPS 180-4 test vectors") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
                   "lmnopqrsmnopqrstnopqrstu") ==
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  CHECK(sha256_hex(std::string(1'000'000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("SHA-256: incremental updates in odd pieces equal one update") {
  std::string message;
  for (int i = 0; i < 1000; ++i) message.push_back(static_cast<char>('a' + i % 26));
  const std::string whole = sha256_hex(message);
  for (std::size_t piece : {1u, 3u, 55u, 56u, 63u, 64u, 65u, 127u}) {
    Sha256 hasher;
    for (std::size_t at = 0; at < message.size(); at += piece) {
      hasher.update(std::string_view(message).substr(at, piece));
    }
    CHECK_MESSAGE(kwh::to_hex(hasher.finish()) == whole, piece);
  }
  // Lengths around the padding boundary (55, 56, 64 bytes) must each hash differently.
  CHECK(sha256_hex(std::string(55, 'x')) != sha256_hex(std::string(56, 'x')));
}

TEST_CASE("SHA-256: reset starts a fresh hash") {
  Sha256 hasher;
  hasher.update("something else");
  hasher.reset();
  CHECK(kwh::to_hex(hasher.update("abc").finish()) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
