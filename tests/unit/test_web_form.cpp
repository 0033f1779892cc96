#include <doctest/doctest.h>

#include <kwh/web/form.hpp>

#include <string>

using kwh::web::client_address;
using kwh::web::cookie_value;
using kwh::web::origin_of;
using kwh::web::parse_form;
using kwh::web::url_decode;
using kwh::web::url_encode;

TEST_CASE("form: url_decode reads %XX and '+', and refuses broken escapes") {
  CHECK(url_decode("50.00") == "50.00");
  CHECK(url_decode("a+b%20c") == "a b c");
  CHECK(url_decode("a+b", false) == "a+b");
  CHECK(url_decode("%2B%2b%3d%26") == "++=&");
  CHECK(url_decode("%E4%B8%AD") == "\xe4\xb8\xad");
  CHECK(url_decode("%00") == std::string(1, '\0'));
  CHECK(url_decode("") == "");
  for (std::string_view bad : {"%", "%4", "a%", "%G0", "%0g", "%%", "%-1", "% 20", "100%"}) {
    CHECK_MESSAGE(!url_decode(bad), bad);
  }
}

TEST_CASE("form: url_encode keeps the unreserved characters and escapes every other byte") {
  CHECK(url_encode("AZaz09-._~") == "AZaz09-._~");
  CHECK(url_encode("50.00") == "50.00");
  CHECK(url_encode("a b&c=d/e?f#g+h%") == "a%20b%26c%3Dd%2Fe%3Ff%23g%2Bh%25");
  CHECK(url_encode("https://pay.example.com/") == "https%3A%2F%2Fpay.example.com%2F");
  CHECK(url_encode("\xe4\xb8\xad") == "%E4%B8%AD");
  CHECK(url_encode(std::string(1, '\0')) == "%00");
  CHECK(url_encode("") == "");
  // Every byte survives the round trip, with and without '+' as a space.
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  CHECK(url_decode(url_encode(all)) == all);
  CHECK(url_decode(url_encode(all), false) == all);
}

TEST_CASE("form: parse_form reads a browser's form body") {
  const auto f = parse_form("csrf=abc-_123&provider=alipay&amount=50.00&note=rent+for+May%21");
  REQUIRE(f);
  CHECK(f->size() == 4);
  CHECK(f->at("csrf") == "abc-_123");
  CHECK(f->at("provider") == "alipay");
  CHECK(f->at("amount") == "50.00");
  CHECK(f->at("note") == "rent for May!");

  // Empty values, a name without '=', empty pieces and a value with '=' in it.
  const auto g = parse_form("level=&flag&&x=a=b&");
  REQUIRE(g);
  CHECK(g->size() == 3);
  CHECK(g->at("level") == "");
  CHECK(g->at("flag") == "");
  CHECK(g->at("x") == "a=b");
  CHECK(parse_form("")->empty());
  // Escaped names are decoded before they are compared.
  CHECK(parse_form("%63srf=1")->at("csrf") == "1");
}

TEST_CASE("form: parse_form refuses repeated names, bad escapes and too many fields") {
  CHECK(!parse_form("csrf=a&csrf=b"));
  CHECK(!parse_form("csrf=a&csrf=a"));
  CHECK(!parse_form("csrf=a&%63srf=b"));
  CHECK(!parse_form("amount&amount="));
  CHECK(!parse_form("amount=50%"));
  CHECK(!parse_form("amount%zz=50"));

  std::string body;
  for (std::size_t i = 0; i < kwh::web::k_max_form_fields; ++i) body += "f" + std::to_string(i) + "=1&";
  CHECK(parse_form(body));
  CHECK(parse_form(body)->size() == kwh::web::k_max_form_fields);
  CHECK(!parse_form(body + "one=more"));
}

TEST_CASE("form: cookie_value finds a cookie by its exact name") {
  const std::string header = "theme=dark; __Host-kwh=s3ss10n.v4lue; kwh=plain;lang=zh";
  CHECK(cookie_value(header, "__Host-kwh") == "s3ss10n.v4lue");
  CHECK(cookie_value(header, "kwh") == "plain");
  CHECK(cookie_value(header, "theme") == "dark");
  CHECK(cookie_value(header, "lang") == "zh");
  CHECK(!cookie_value(header, "KWH"));
  CHECK(!cookie_value(header, "__Host-"));
  CHECK(!cookie_value(header, "wh"));
  CHECK(!cookie_value(header, "s3ss10n.v4lue"));
  CHECK(!cookie_value(header, ""));
  CHECK(!cookie_value("", "kwh"));

  CHECK(cookie_value("kwh=", "kwh") == "");
  CHECK(cookie_value("kwh=\"quoted\"", "kwh") == "quoted");
  CHECK(cookie_value("kwh=a=b", "kwh") == "a=b");
  CHECK(cookie_value("  kwh = v ;x=y", "kwh") == "v");
  CHECK(cookie_value("junk; ;kwh=v", "kwh") == "v");
  // The first of two: the one with the longest path, as browsers order them.
  CHECK(cookie_value("kwh=first; kwh=second", "kwh") == "first");
}

TEST_CASE("form: origin_of lower-cases and drops default ports and paths") {
  CHECK(origin_of("https://Example.com:443/x") == "https://example.com");
  CHECK(origin_of("HTTPS://PAY.example.COM") == "https://pay.example.com");
  CHECK(origin_of("https://pay.example.com/") == "https://pay.example.com");
  CHECK(origin_of("https://pay.example.com?q=1") == "https://pay.example.com");
  CHECK(origin_of("https://pay.example.com#top") == "https://pay.example.com");
  CHECK(origin_of("http://127.0.0.1:8080") == "http://127.0.0.1:8080");
  CHECK(origin_of("http://localhost:80/") == "http://localhost");
  CHECK(origin_of("http://localhost:443/") == "http://localhost:443");
  CHECK(origin_of("https://localhost:80") == "https://localhost:80");
  CHECK(origin_of("https://h:08443") == "https://h:8443");
  CHECK(origin_of("http://h:") == "http://h");
  CHECK(origin_of("https://[::1]:") == "https://[::1]");
  CHECK(origin_of("http://[::1]:8080/") == "http://[::1]:8080");
  CHECK(origin_of("https://[2001:DB8::1]") == "https://[2001:db8::1]");
  CHECK(origin_of("https://[2001:db8::1]:443") == "https://[2001:db8::1]");
  // The same origin written two ways compares equal once normalised.
  CHECK(origin_of("https://Pay.Example.com:443") == origin_of("https://pay.example.com/l/xyz"));
}

TEST_CASE("form: origin_of refuses what is not an http(s) origin") {
  for (std::string_view bad : {"", "null", "pay.example.com", "//pay.example.com", "ftp://example.com",
                               "file:///etc/passwd", "javascript://x", "https://", "https:///path", "https://:443",
                               "https://user@example.com", "https://user:pw@example.com", "https://a@b@example.com",
                               "https://exa mple.com", "https://example.com:0", "https://example.com:65536",
                               "https://example.com:123456", "https://example.com:-1", "https://example.com:x",
                               "https://example.com:443:443", "https://ex%61mple.com", "https://example.com\\@evil",
                               "https://[::1", "https://[]", "https://[::1]x", "https://[g::1]",
                               " https://example.com"}) {
    CHECK_MESSAGE(!origin_of(bad), bad);
  }
}

TEST_CASE("form: client_address believes X-Forwarded-For only from a trusted loopback proxy") {
  CHECK(client_address("127.0.0.1", "203.0.113.9", true) == "203.0.113.9");
  CHECK(client_address("127.0.0.1", "10.0.0.1, 198.51.100.2,203.0.113.9 ", true) == "203.0.113.9");
  CHECK(client_address("127.1.2.3", "203.0.113.9", true) == "203.0.113.9");
  CHECK(client_address("::1", "2001:db8::7", true) == "2001:db8::7");
  CHECK(client_address("[::1]", "203.0.113.9", true) == "203.0.113.9");
  CHECK(client_address("::ffff:127.0.0.1", "203.0.113.9", true) == "203.0.113.9");

  // Not trusted, or the peer is not the local proxy: the header is the client's own words.
  CHECK(client_address("127.0.0.1", "203.0.113.9", false) == "127.0.0.1");
  CHECK(client_address("198.51.100.4", "203.0.113.9", true) == "198.51.100.4");
  CHECK(client_address("128.0.0.1", "203.0.113.9", true) == "128.0.0.1");
  CHECK(client_address("::2", "203.0.113.9", true) == "::2");
  CHECK(client_address("::ffff:10.0.0.1", "203.0.113.9", true) == "::ffff:10.0.0.1");

  // A missing, empty or unreadable last entry: the peer, never text that would reach the log.
  CHECK(client_address("127.0.0.1", "", true) == "127.0.0.1");
  CHECK(client_address("127.0.0.1", "203.0.113.9,", true) == "127.0.0.1");
  CHECK(client_address("127.0.0.1", "203.0.113.9, unknown", true) == "127.0.0.1");
  CHECK(client_address("127.0.0.1", "203.0.113.9\n GET / 200", true) == "127.0.0.1");
  CHECK(client_address("127.0.0.1", "203.0.113.9:5555", true) == "127.0.0.1");
  CHECK(client_address("127.0.0.1", "1.2.3.4.5", true) == "127.0.0.1");
}
