#include <kwh/web/link.hpp>

#include <kwh/billing/account.hpp>
#include <kwh/crypto/hmac.hpp>
#include <kwh/crypto/sha256.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/util/error.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kwh::web {
namespace {

constexpr std::size_t k_key_bytes = 32;
constexpr std::size_t k_nonce_bytes = 12;

std::string read_secret(int fd, const std::string& path) {
  std::string text(256, '\0');
  const ssize_t n = ::read(fd, text.data(), text.size());
  if (n < 0) fail(Exit::config, "{}: cannot be read: {}", path, std::strerror(errno));
  text.resize(static_cast<std::size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  auto key = crypto::from_hex(text);
  if (!key || key->size() != k_key_bytes)
    fail(Exit::config, "{}: expected the 64 hex digits of a 32-byte key (delete it to have a new one made)", path);
  return *key;
}

std::optional<std::int64_t> to_int(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt; // one spelling per number
  return v;
}

std::string signed_part(std::int64_t account_id, UnixTime expires, std::int64_t generation, std::string_view nonce) {
  return fmt::format("{}.{}.{}.{}", account_id, expires, generation, nonce);
}

std::string link_mac(std::string_view key, std::string_view part) {
  const auto mac = crypto::hmac_sha256(key, std::string("kwh-link-v1\n").append(part));
  return crypto::to_base64url(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

std::string session_id(std::string_view cookie) {
  const auto d = sha256(cookie);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

} // namespace

std::string load_or_create_secret(const std::string& path, const std::string& database_path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT) {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
      const std::string text = crypto::to_hex(crypto::random_bytes(k_key_bytes)) + "\n";
      const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
      struct stat db{};
      // When it cannot be given away it stays root's, and kwh serve says it cannot read it.
      if (ok && ::geteuid() == 0 && ::stat(database_path.c_str(), &db) == 0)
        (void)!::fchown(fd, db.st_uid, db.st_gid);
      ::close(fd);
      if (!ok) {
        ::unlink(path.c_str());
        fail(Exit::failed, "{}: cannot write the new key", path);
      }
    }
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  }
  if (fd < 0) fail(Exit::config, "{}: cannot be opened: {}", path, std::strerror(errno));
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(Exit::config, "{}: not a regular file", path);
  }
  if (st.st_mode & (S_IROTH | S_IWOTH)) {
    ::close(fd);
    fail(Exit::config, "{}: others may read or write this key; chmod 0600 (or 0640 for a group of cashiers)", path);
  }
  try {
    std::string key = read_secret(fd, path);
    ::close(fd);
    return key;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

std::string make_link_token(std::string_view key, LinkClaims c) {
  if (c.nonce.empty()) c.nonce = crypto::to_base64url(crypto::random_bytes(k_nonce_bytes));
  const std::string part = signed_part(c.account_id, c.expires, c.generation, c.nonce);
  return part + "." + link_mac(key, part);
}

std::optional<LinkClaims> read_link_token(std::string_view key, std::string_view token) {
  if (token.size() > 200) return std::nullopt;
  const auto last = token.rfind('.');
  if (last == std::string_view::npos) return std::nullopt;
  const std::string_view part = token.substr(0, last), mac = token.substr(last + 1);
  // The MAC first, in constant time, before anything of the token is trusted.
  if (!crypto::equal(link_mac(key, part), mac)) return std::nullopt;
  std::string_view fields[4];
  std::string_view rest = part;
  for (int i = 0; i < 4; ++i) {
    const auto dot = rest.find('.');
    if ((dot == std::string_view::npos) != (i == 3)) return std::nullopt;
    fields[i] = rest.substr(0, dot);
    rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
  }
  auto id = to_int(fields[0]), expires = to_int(fields[1]), generation = to_int(fields[2]);
  auto nonce = crypto::from_base64url(fields[3]);
  if (!id || !expires || !generation || !nonce || nonce->size() != k_nonce_bytes) return std::nullopt;
  return LinkClaims{*id, *expires, *generation, std::string(fields[3])};
}

std::string continue_token(std::string_view key, std::string_view token) {
  const auto mac = crypto::hmac_sha256(key, std::string("kwh-continue-v1\n").append(token));
  return crypto::to_base64url(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

IssuedLink issue_link(storage::Database& db, std::string_view key, const std::string& base_url,
                      const std::string& account, std::chrono::seconds ttl, UnixTime now) {
  const auto a = billing::find_account(db, account);
  if (a.status == "closed") fail(Exit::data, "account {} is closed", a.name);
  auto st = db.prepare("SELECT link_generation FROM accounts WHERE id = ?1");
  st.bind_all(a.id);
  st.step();
  LinkClaims c;
  c.account_id = a.id;
  c.expires = now + ttl.count();
  c.generation = st.get_int(0);
  IssuedLink out;
  out.url = base_url + "/l/" + make_link_token(key, c);
  out.account = a.name;
  out.holder = a.holder;
  out.expires = c.expires;
  return out;
}

std::int64_t revoke_links(storage::Database& db, const std::string& account) {
  const auto a = billing::find_account(db, account);
  auto st = db.prepare("UPDATE accounts SET link_generation = link_generation + 1 WHERE id = ?1 RETURNING link_generation");
  st.bind_all(a.id);
  st.step();
  const std::int64_t generation = st.get_int(0);
  st.run();
  db.cached("DELETE FROM web_sessions WHERE account_id = ?1").bind_all(a.id).run();
  return generation;
}

const char* refusal_name(Refusal r) {
  switch (r) {
  case Refusal::none: return "none";
  case Refusal::malformed: return "malformed";
  case Refusal::expired: return "expired";
  case Refusal::revoked: return "revoked";
  case Refusal::used: return "used";
  case Refusal::closed: return "closed";
  }
  return "?";
}

namespace {

// The checks of a link against the database, in the caller's transaction or snapshot.
Refusal check_claims(storage::Database& db, const LinkClaims& claims, UnixTime now, std::int64_t* generation) {
  if (claims.expires <= now) return Refusal::expired;
  auto& acct = db.cached("SELECT link_generation, status FROM accounts WHERE id = ?1");
  acct.bind_all(claims.account_id);
  if (!acct.step()) {
    acct.reset();
    return Refusal::malformed;
  }
  const std::int64_t current = acct.get_int(0);
  const bool closed = acct.get_text(1) == "closed";
  acct.reset();
  if (generation) *generation = current;
  if (current != claims.generation) return Refusal::revoked;
  if (closed) return Refusal::closed;
  auto& used = db.cached("SELECT 1 FROM web_links_used WHERE nonce = ?1");
  used.bind_all(claims.nonce);
  const bool was_used = used.step();
  used.reset();
  return was_used ? Refusal::used : Refusal::none;
}

} // namespace

Refusal link_state(storage::Database& db, std::string_view key, std::string_view token, UnixTime now) {
  auto claims = read_link_token(key, token);
  if (!claims) return Refusal::malformed;
  return check_claims(db, *claims, now, nullptr);
}

Redeemed redeem_link(storage::Database& db, std::string_view key, std::string_view token, UnixTime now,
                     std::chrono::seconds session_ttl) {
  Redeemed out;
  auto claims = read_link_token(key, token);
  if (!claims) return {Refusal::malformed, std::nullopt};
  if (claims->expires <= now) return {Refusal::expired, std::nullopt};
  storage::Transaction tx(db);
  std::int64_t generation = 0;
  if (Refusal r = check_claims(db, *claims, now, &generation); r != Refusal::none) return {r, std::nullopt};

  db.cached("DELETE FROM web_sessions WHERE expires <= ?1").bind_all(now).run();
  db.cached("DELETE FROM web_links_used WHERE expires <= ?1").bind_all(now).run();
  db.cached("INSERT INTO web_links_used(nonce, account_id, used, expires) VALUES (?1, ?2, ?3, ?4)")
      .bind_all(claims->nonce, claims->account_id, now, claims->expires)
      .run();
  Session s;
  s.cookie = crypto::to_base64url(crypto::random_bytes(32));
  s.csrf = crypto::to_base64url(crypto::random_bytes(24));
  s.account_id = claims->account_id;
  s.expires = now + session_ttl.count();
  const std::string id = session_id(s.cookie);
  db.cached("INSERT INTO web_sessions(id, account_id, generation, csrf, created, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
      .bind_blob(1, id.data(), id.size())
      .bind(2, s.account_id)
      .bind(3, generation)
      .bind(4, s.csrf)
      .bind(5, now)
      .bind(6, s.expires)
      .run();
  tx.commit();
  out.session = std::move(s);
  return out;
}

std::optional<SessionInfo> find_session(storage::Database& db, std::string_view cookie, UnixTime now) {
  if (cookie.empty() || cookie.size() > 100) return std::nullopt;
  const std::string id = session_id(cookie);
  auto& st = db.cached("SELECT s.account_id, s.csrf, s.expires FROM web_sessions s JOIN accounts a ON a.id = s.account_id "
                       "WHERE s.id = ?1 AND s.expires > ?2 AND s.generation = a.link_generation");
  st.bind_blob(1, id.data(), id.size()).bind(2, now);
  std::optional<SessionInfo> out;
  if (st.step()) out = SessionInfo{st.get_int(0), st.get_text(1), st.get_int(2)};
  st.reset();
  return out;
}

void end_session(storage::Database& db, std::string_view cookie) {
  const std::string id = session_id(cookie);
  storage::Transaction tx(db);
  db.cached("DELETE FROM web_sessions WHERE id = ?1").bind_blob(1, id.data(), id.size()).run();
  tx.commit();
}

} // namespace kwh::web
