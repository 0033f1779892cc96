#include <kwh/crypto/sha256.hpp>

#include <kwh/crypto/hmac.hpp>

#include <openssl/evp.h>

#include <stdexcept>

namespace kwh {
namespace {

// Fetched once: an implicit fetch per digest costs a lookup under a lock each time.
const EVP_MD* sha256_md() {
  static EVP_MD* const md = [] {
    crypto::init_openssl();
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (!m) throw std::runtime_error("OpenSSL has no SHA-256");
    return m;
  }();
  return md;
}

void check(int ok) {
  if (ok != 1) throw std::runtime_error("OpenSSL SHA-256 failed");
}

} // namespace

struct Sha256::Context {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
};

Sha256::Sha256() : m_ctx(new Context) {
  if (!m_ctx->ctx) {
    delete m_ctx;
    throw std::bad_alloc();
  }
  reset();
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(m_ctx->ctx);
  delete m_ctx;
}

void Sha256::reset() { check(EVP_DigestInit_ex(m_ctx->ctx, sha256_md(), nullptr)); }

Sha256& Sha256::update(const std::uint8_t* data, std::size_t size) {
  check(EVP_DigestUpdate(m_ctx->ctx, data, size));
  return *this;
}

Sha256& Sha256::update(std::string_view data) {
  return update(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
}

Sha256Digest Sha256::finish() {
  Sha256Digest out{};
  unsigned int n = 0;
  check(EVP_DigestFinal_ex(m_ctx->ctx, out.data(), &n));
  return out;
}

Sha256Digest sha256(std::string_view data) {
  // One context per thread, reused: the accumulators hash on every write.
  thread_local Sha256 hasher;
  hasher.reset();
  return hasher.update(data).finish();
}

std::string to_hex(const Sha256Digest& digest) { return crypto::to_hex(digest.data(), digest.size()); }

std::string sha256_hex(std::string_view data) { return to_hex(sha256(data)); }

} // namespace kwh
