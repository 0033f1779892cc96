#include <doctest/doctest.h>

#include <kwh/crypto/hmac.hpp>
#include <kwh/crypto/sha256.hpp>

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

// The digest below was printed by kwh's earlier hand-written SHA-256, before libcrypto took its
// place; it must not change, or every existing site's chains would fail `kwh check`. The chains
// themselves are proven by tests/e2e/billing_upgrade.sh, which checks ledgers and audit logs
// written by earlier releases (tests/e2e/fixtures).
TEST_CASE("SHA-256: a digest of the earlier hand-written implementation stays identical") {
  std::string text(32, '\0');
  text += "kwh audit chain v1";
  for (int i = 0; i < 300; ++i) text.push_back(static_cast<char>(i * 7));
  CHECK(sha256_hex(text) == "005467b2baca92256a230fd8a3c0b6d692b765c5f82ed25ec21ee5fe05fba21d");
}

// RFC 4231, test cases 1, 2 and 6 (a key longer than the block).
TEST_CASE("HMAC-SHA256: the RFC 4231 test vectors") {
  using kwh::crypto::hmac_sha256;
  auto hex = [](const kwh::crypto::Mac& m) { return kwh::crypto::to_hex(m.data(), m.size()); };
  CHECK(hex(hmac_sha256(std::string(20, '\x0b'), "Hi There")) ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  CHECK(hex(hmac_sha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(hex(hmac_sha256(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")) ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST_CASE("crypto: constant-time equality, random bytes, hex and base64url") {
  using namespace kwh::crypto;
  CHECK(equal("abc", "abc"));
  CHECK_FALSE(equal("abc", "abd"));
  CHECK_FALSE(equal("abc", "abcd"));
  CHECK(equal("", ""));

  const std::string a = random_bytes(32);
  const std::string b = random_bytes(32);
  CHECK(a.size() == 32);
  CHECK(a != b);

  CHECK(to_hex(std::string("\x00\xff\x10", 3)) == "00ff10");
  CHECK(from_hex("00FF10") == std::string("\x00\xff\x10", 3));
  CHECK_FALSE(from_hex("abc").has_value());
  CHECK_FALSE(from_hex("zz").has_value());

  // RFC 4648 section 10 vectors, in the URL-safe alphabet without padding.
  CHECK(to_base64url("") == "");
  CHECK(to_base64url("f") == "Zg");
  CHECK(to_base64url("fo") == "Zm8");
  CHECK(to_base64url("foo") == "Zm9v");
  CHECK(to_base64url("foobar") == "Zm9vYmFy");
  CHECK(to_base64url("\xfb\xff") == "-_8");
  for (std::size_t n = 0; n < 40; ++n) {
    const std::string bytes = random_bytes(n);
    CHECK(from_base64url(to_base64url(bytes)) == bytes);
  }
  CHECK_FALSE(from_base64url("Zg=").has_value());  // padding is not part of the form
  CHECK_FALSE(from_base64url("Zm9v+").has_value()); // the standard alphabet is refused
  CHECK_FALSE(from_base64url("Zh").has_value());    // non-zero unused bits: not canonical
  CHECK_FALSE(from_base64url("Z").has_value());
}
