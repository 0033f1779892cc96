#include <doctest/doctest.h>

#include "temp_dir.hpp"
#include "test_billing_fixture.hpp"

#include <kwh/crypto/hmac.hpp>
#include <kwh/web/link.hpp>

#include <sys/stat.h>

using namespace kwh;
using namespace kwh::web;

namespace {

const std::string k_key(32, 'k');
constexpr UnixTime k_now = 1'800'000'000;

struct Site {
  test::BillingFixture f;
  std::int64_t a1 = 0;
  Site() {
    f.add_flat("T", "1.0000");
    a1 = f.open("A1", "T", {}).id;
    f.open("A2", "T", {});
  }
  std::string token(std::int64_t account, UnixTime expires, std::int64_t generation = 0) {
    return make_link_token(k_key, {account, expires, generation, ""});
  }
};

} // namespace

TEST_CASE("web link: a token reads back only with its key and unaltered") {
  const std::string t = make_link_token(k_key, {7, k_now + 60, 3, ""});
  auto c = read_link_token(k_key, t);
  REQUIRE(c);
  CHECK(c->account_id == 7);
  CHECK(c->expires == k_now + 60);
  CHECK(c->generation == 3);
  CHECK(crypto::from_base64url(c->nonce)->size() == 12);
  CHECK_FALSE(read_link_token(std::string(32, 'x'), t));
  // Every single character changed, the token is refused.
  for (std::size_t i = 0; i < t.size(); ++i) {
    std::string u = t;
    u[i] = u[i] == 'A' ? 'B' : 'A';
    CHECK_MESSAGE(!read_link_token(k_key, u), i);
  }
  CHECK_FALSE(read_link_token(k_key, ""));
  CHECK_FALSE(read_link_token(k_key, t + "."));
  CHECK_FALSE(read_link_token(k_key, t.substr(0, t.size() - 1)));
  // Two links for the same account differ (their nonces).
  CHECK(make_link_token(k_key, {7, k_now + 60, 3, ""}) != t);
  // The Continue form's token depends on the link.
  CHECK(continue_token(k_key, t) != continue_token(k_key, t + "x"));
}

TEST_CASE("web link: redeemed once into a session; expired, revoked and closed are refused with nothing written") {
  Site s;
  auto count = [&](const char* table) {
    auto st = s.f.db->prepare(std::string("SELECT count(*) FROM ") + table);
    st.step();
    return st.get_int(0);
  };
  const std::string t = s.token(s.a1, k_now + 3600);
  CHECK(link_state(*s.f.db, k_key, t, k_now) == Refusal::none);
  auto r = redeem_link(*s.f.db, k_key, t, k_now, std::chrono::hours(1));
  REQUIRE(r.session);
  CHECK(r.session->account_id == s.a1);
  CHECK(r.session->expires == k_now + 3600);
  CHECK(count("web_sessions") == 1);
  // The cookie itself is not stored, only its SHA-256.
  auto st = s.f.db->prepare("SELECT count(*) FROM web_sessions WHERE id = ?1");
  st.bind(1, r.session->cookie);
  st.step();
  CHECK(st.get_int(0) == 0);

  CHECK(redeem_link(*s.f.db, k_key, t, k_now + 1, std::chrono::hours(1)).refusal == Refusal::used);
  CHECK(link_state(*s.f.db, k_key, t, k_now + 1) == Refusal::used);
  CHECK(redeem_link(*s.f.db, k_key, s.token(s.a1, k_now), k_now, std::chrono::hours(1)).refusal == Refusal::expired);
  CHECK(redeem_link(*s.f.db, k_key, s.token(s.a1, k_now + 60, 1), k_now, std::chrono::hours(1)).refusal ==
        Refusal::revoked);
  CHECK(redeem_link(*s.f.db, k_key, s.token(999, k_now + 60), k_now, std::chrono::hours(1)).refusal ==
        Refusal::malformed);
  CHECK(count("web_sessions") == 1);
  CHECK(count("web_links_used") == 1);

  // The session: found until it expires.
  auto found = find_session(*s.f.db, r.session->cookie, k_now + 10);
  REQUIRE(found);
  CHECK(found->account_id == s.a1);
  CHECK(found->csrf == r.session->csrf);
  CHECK_FALSE(find_session(*s.f.db, r.session->cookie, k_now + 3600));
  CHECK_FALSE(find_session(*s.f.db, r.session->cookie + "x", k_now + 10));

  // Revoking ends the session and every outstanding link.
  const std::string pending = s.token(s.a1, k_now + 3600);
  {
    storage::Transaction tx(*s.f.db);
    CHECK(revoke_links(*s.f.db, "A1") == 1);
    tx.commit();
  }
  CHECK_FALSE(find_session(*s.f.db, r.session->cookie, k_now + 10));
  CHECK(link_state(*s.f.db, k_key, pending, k_now) == Refusal::revoked);
  auto again = redeem_link(*s.f.db, k_key, s.token(s.a1, k_now + 3600, 1), k_now, std::chrono::hours(1));
  CHECK(again.session);

  // A closed account gets no link and redeems none.
  const std::string for_a2 = s.token(s.a1 + 1, k_now + 3600);
  billing::close_account(*s.f.db, s.f.config, "A2", false, "tester", k_now);
  CHECK(redeem_link(*s.f.db, k_key, for_a2, k_now, std::chrono::hours(1)).refusal == Refusal::closed);
  CHECK_THROWS_AS(issue_link(*s.f.db, k_key, "https://x", "A2", std::chrono::hours(1), k_now), Error);
  auto issued = issue_link(*s.f.db, k_key, "https://pay.example.com", "A1", std::chrono::hours(2), k_now);
  CHECK(issued.url.rfind("https://pay.example.com/l/", 0) == 0);
  CHECK(issued.expires == k_now + 7200);
}

TEST_CASE("web link: the key file is made once with mode 0600 and refused when others may read it") {
  test::TempDir dir;
  const std::string path = dir.file("serve.secret");
  const std::string key = load_or_create_secret(path, dir.file("kwh.db"));
  CHECK(key.size() == 32);
  struct stat st{};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(load_or_create_secret(path, dir.file("kwh.db")) == key);
  ::chmod(path.c_str(), 0640);
  CHECK(load_or_create_secret(path, dir.file("kwh.db")) == key);
  ::chmod(path.c_str(), 0644);
  CHECK_THROWS_AS(load_or_create_secret(path, dir.file("kwh.db")), Error);
}
