#pragma once
// Login links and sessions of `kwh serve`. A cashier prints a link (`kwh account link`); the
// tenant opens it, presses Continue, and the POST redeems it for a session cookie.
//
// A link's token is ACCOUNTID.EXPIRY.GENERATION.NONCE.MAC: MAC is HMAC-SHA256 under the site's
// secret over "kwh-link-v1\n" and the first four parts. It is single-use (its nonce is recorded
// when redeemed), expires, and dies with the account's link generation (`--revoke` bumps it,
// which also ends the account's sessions). Nothing but the token's MAC proves it: the database
// holds no copy of a link, and a session only as the SHA-256 of its cookie.

#include <kwh/util/time.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kwh::storage {
class Database;
}

namespace kwh::web {

// The key of links, sessions and the Continue form: 32 random bytes, kept as 64 hex digits in a
// file of mode 0600. Created on first use (in a folder that exists); owned like the database
// file when created by root, so that the kwh user can read it. Exit::config when it cannot be
// read, is not 32 bytes of hex, or others may read it.
std::string load_or_create_secret(const std::string& path, const std::string& database_path);

struct LinkClaims {
  std::int64_t account_id = 0;
  UnixTime expires = 0;
  std::int64_t generation = 0;
  std::string nonce; // base64url of 12 random bytes
};

// A signed token for the claims (a fresh nonce when claims.nonce is empty).
std::string make_link_token(std::string_view key, LinkClaims claims);
// The claims of a token whose MAC is right (compared in constant time); nullopt for anything
// altered or malformed. Expiry, generation and use are checked by redeem_link.
std::optional<LinkClaims> read_link_token(std::string_view key, std::string_view token);
// The Continue form's hidden field: HMAC over the token, so that only a page kwh served posts it.
std::string continue_token(std::string_view key, std::string_view token);

struct IssuedLink {
  std::string url;
  std::string account;
  std::string holder;
  UnixTime expires = 0;
};

// `kwh account link`: a link for an open account, valid for ttl. Exit::no_input for an unknown
// account, Exit::data for a closed one. Reads only.
IssuedLink issue_link(storage::Database& db, std::string_view key, const std::string& base_url,
                      const std::string& account, std::chrono::seconds ttl, UnixTime now);

// `kwh account link --revoke`: bumps the generation and ends the account's sessions, in the
// caller's transaction. Returns the new generation.
std::int64_t revoke_links(storage::Database& db, const std::string& account);

enum class Refusal { none, malformed, expired, revoked, used, closed };
const char* refusal_name(Refusal r);

struct Session {
  std::string cookie; // the value for the browser; only its SHA-256 is stored
  std::int64_t account_id = 0;
  std::string csrf;
  UnixTime expires = 0;
};

struct Redeemed {
  Refusal refusal = Refusal::none;
  std::optional<Session> session;
};

// What redeem_link would say now, without writing: for the Continue page of GET /l/TOKEN.
Refusal link_state(storage::Database& db, std::string_view key, std::string_view token, UnixTime now);

// Redeems a link in its own transaction: the nonce is recorded as used and a session starts.
// Anything refused writes nothing. Expired sessions and used nonces past their link's expiry
// are deleted on the way.
Redeemed redeem_link(storage::Database& db, std::string_view key, std::string_view token, UnixTime now,
                     std::chrono::seconds session_ttl);

struct SessionInfo {
  std::int64_t account_id = 0;
  std::string csrf;
  UnixTime expires = 0;
};

// The live session of a cookie: not expired, and of the account's current link generation.
std::optional<SessionInfo> find_session(storage::Database& db, std::string_view cookie, UnixTime now);
// Ends a session (logout), in its own transaction.
void end_session(storage::Database& db, std::string_view cookie);

} // namespace kwh::web
