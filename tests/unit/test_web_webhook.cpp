#include <doctest/doctest.h>

#include <kwh/crypto/hmac.hpp>
#include <kwh/web/webhook.hpp>

#include <limits>
#include <string>

using kwh::web::parse_payment;
using kwh::web::parse_signature_header;
using kwh::web::sign_header;
using kwh::web::Verdict;
using kwh::web::verify_signature;

namespace {

constexpr std::int64_t k_now = 1'800'000'000;
const std::string k_secret = "whsec_provider-shared-secret";
const std::string k_body = R"({"id":"pay_1","account":"A-101","amount":5000,"currency":"CNY"})";

std::string mac_hex(std::string_view secret, std::string_view text) {
  const auto mac = kwh::crypto::hmac_sha256(secret, text);
  return kwh::crypto::to_hex(mac.data(), mac.size());
}

// The error of a body that must be refused, or "" when it was accepted.
std::string refusal(std::string_view body) {
  const auto r = parse_payment(body);
  if (r.notice) return "";
  CHECK_MESSAGE(r.error.find('\n') == std::string::npos, r.error);
  return r.error.empty() ? "(refused without a message)" : r.error;
}

} // namespace

TEST_CASE("webhook signature: the header of sign_header verifies") {
  const std::string header = sign_header(k_secret, k_now, k_body);
  CHECK(header == "t=1800000000,v1=" + mac_hex(k_secret, "1800000000." + k_body));
  CHECK(verify_signature(k_secret, header, k_body, k_now) == Verdict::ok);
  // The signed text is exactly t "." body: an empty body is signed too.
  CHECK(verify_signature(k_secret, sign_header(k_secret, k_now, ""), "", k_now) == Verdict::ok);
}

TEST_CASE("webhook signature: a changed body, secret or timestamp is a mismatch") {
  const std::string header = sign_header(k_secret, k_now, k_body);
  std::string tampered = k_body;
  tampered.replace(tampered.find("5000"), 4, "9000");
  CHECK(verify_signature(k_secret, header, tampered, k_now) == Verdict::mismatch);
  CHECK(verify_signature(k_secret, header, k_body + " ", k_now) == Verdict::mismatch);
  CHECK(verify_signature("another secret", header, k_body, k_now) == Verdict::mismatch);
  CHECK(verify_signature("", header, k_body, k_now) == Verdict::mismatch);
  // Not even a header made with the empty secret: a provider without a secret is not verified.
  CHECK(verify_signature("", sign_header("", k_now, k_body), k_body, k_now) == Verdict::mismatch);
  // The MAC covers t: moving the timestamp into the window breaks it.
  const std::string moved = "t=1800000001," + header.substr(header.find("v1="));
  CHECK(verify_signature(k_secret, moved, k_body, k_now) == Verdict::mismatch);
  // One changed hex digit.
  std::string flipped = header;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  CHECK(verify_signature(k_secret, flipped, k_body, k_now) == Verdict::mismatch);
  // Upper-case hex is the same MAC.
  std::string upper = header;
  for (std::size_t i = upper.find("v1=") + 3; i < upper.size(); ++i) {
    upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
  }
  CHECK(verify_signature(k_secret, upper, k_body, k_now) == Verdict::ok);
}

TEST_CASE("webhook signature: five minutes either way, and no further") {
  for (std::int64_t skew : {-300, -1, 0, 1, 300}) {
    CHECK_MESSAGE(verify_signature(k_secret, sign_header(k_secret, k_now + skew, k_body), k_body, k_now) == Verdict::ok,
                  skew);
  }
  // An old notice replayed, and one from a provider whose clock runs ahead.
  CHECK(verify_signature(k_secret, sign_header(k_secret, k_now - 301, k_body), k_body, k_now) == Verdict::stale);
  CHECK(verify_signature(k_secret, sign_header(k_secret, k_now + 301, k_body), k_body, k_now) == Verdict::stale);
  CHECK(verify_signature(k_secret, sign_header(k_secret, 0, k_body), k_body, k_now) == Verdict::stale);
  // Another tolerance.
  CHECK(verify_signature(k_secret, sign_header(k_secret, k_now - 60, k_body), k_body, k_now, 30) == Verdict::stale);
  CHECK(verify_signature(k_secret, sign_header(k_secret, k_now - 30, k_body), k_body, k_now, 30) == Verdict::ok);
  CHECK(verify_signature(k_secret, sign_header(k_secret, k_now, k_body), k_body, k_now, -1) == Verdict::stale);
  // A wrong signature is a mismatch, stale or not.
  CHECK(verify_signature("wrong", sign_header(k_secret, k_now - 10'000, k_body), k_body, k_now) == Verdict::mismatch);
}

TEST_CASE("webhook signature: far timestamps and clocks do not overflow") {
  const std::int64_t max_t = 999'999'999'999'999'999; // 18 digits, the largest t accepted
  const std::string far = sign_header(k_secret, max_t, k_body);
  CHECK(verify_signature(k_secret, far, k_body, std::numeric_limits<std::int64_t>::min()) == Verdict::stale);
  CHECK(verify_signature(k_secret, far, k_body, std::numeric_limits<std::int64_t>::max()) == Verdict::stale);
  CHECK(verify_signature(k_secret, far, k_body, max_t) == Verdict::ok);
  CHECK(verify_signature(k_secret, sign_header(k_secret, 0, k_body), k_body, std::numeric_limits<std::int64_t>::min(),
                         std::numeric_limits<std::int64_t>::max()) == Verdict::stale);
  CHECK(verify_signature(k_secret, sign_header(k_secret, 0, k_body), k_body, std::numeric_limits<std::int64_t>::max(),
                         std::numeric_limits<std::int64_t>::max()) == Verdict::ok);
}

TEST_CASE("webhook signature: one right v1 among several is enough, and v0 is ignored") {
  const std::string good = mac_hex(k_secret, "1800000000." + k_body);
  const std::string old = mac_hex("the previous secret", "1800000000." + k_body);
  const std::string t = "t=1800000000";
  CHECK(verify_signature(k_secret, t + ",v1=" + old + ",v1=" + good, k_body, k_now) == Verdict::ok);
  CHECK(verify_signature(k_secret, "v1=" + good + "," + t + ",v1=" + old, k_body, k_now) == Verdict::ok);
  CHECK(verify_signature(k_secret, t + ",v0=" + old + ",v1=" + good + ",scheme2=x", k_body, k_now) == Verdict::ok);
  CHECK(verify_signature(k_secret, t + ",v1=" + old + ",v1=" + old, k_body, k_now) == Verdict::mismatch);
  // A right MAC under another scheme's name is not a v1.
  CHECK(verify_signature(k_secret, t + ",v0=" + good, k_body, k_now) == Verdict::malformed);
  // A v1 that is not a MAC is skipped; a well-formed one is still needed.
  CHECK(verify_signature(k_secret, t + ",v1=zz,v1=" + good, k_body, k_now) == Verdict::ok);
  CHECK(verify_signature(k_secret, t + ",v1=" + good.substr(2), k_body, k_now) == Verdict::malformed);
  // Blanks around items are tolerated.
  CHECK(verify_signature(k_secret, t + ", v1=" + good + " ", k_body, k_now) == Verdict::ok);
}

TEST_CASE("webhook signature: malformed headers") {
  const std::string v1 = ",v1=" + std::string(64, 'a');
  CHECK(parse_signature_header("t=1800000000" + v1));
  for (const std::string& header : {
           std::string(""),
           std::string("garbage"),
           std::string("t=1800000000"),         // no v1
           v1.substr(1),                        // no t
           "t=" + v1,                           // empty t
           "t=-5" + v1,                         // a sign
           "t=+5" + v1,                         //
           "t=01800000000" + v1,                // a leading zero: the signed text would differ
           "t=1.5" + v1,                        // not an integer
           "t=1e9" + v1,                        //
           "t=1800000000 x" + v1,               //
           "t=1000000000000000000" + v1,        // 19 digits
           "t=99999999999999999999999" + v1,    // beyond int64
           "t=1,t=1" + v1,                      // t twice
           "t=1800000000" + v1 + ",",           // an empty item
           "t=1800000000,,v1=" + v1.substr(4),  //
           "t=1800000000" + v1 + ",=x",         // no key
           "t=1800000000" + v1 + ",v1",         // no '='
           "t=1800000000,v1=" + std::string(63, 'a'),
           "t=1800000000,v1=" + std::string(65, 'a'),
           "t=1800000000,v1=" + std::string(64, 'g'),
       }) {
    CHECK_MESSAGE(!parse_signature_header(header), header);
    CHECK_MESSAGE(verify_signature(k_secret, header, k_body, k_now) == Verdict::malformed, header);
  }
}

TEST_CASE("webhook signature: the number of v1 and the header's length are limited") {
  const std::string good = mac_hex(k_secret, "1800000000." + k_body);
  std::string header = "t=1800000000";
  for (std::size_t i = 0; i < kwh::web::k_max_signatures - 1; ++i) header += ",v1=" + std::string(64, '0');
  header += ",v1=" + good;
  const auto parsed = parse_signature_header(header);
  REQUIRE(parsed);
  CHECK(parsed->t == k_now);
  CHECK(parsed->v1.size() == kwh::web::k_max_signatures);
  CHECK(parsed->v1.back().size() == 32);
  CHECK(verify_signature(k_secret, header, k_body, k_now) == Verdict::ok);
  CHECK(verify_signature(k_secret, header + ",v1=" + good, k_body, k_now) == Verdict::malformed);
  // Ill-formed v1 items count too.
  std::string junk = "t=1800000000";
  for (std::size_t i = 0; i < kwh::web::k_max_signatures; ++i) junk += ",v1=x";
  CHECK(!parse_signature_header(junk + ",v1=" + good));
  // Long v0 padding past the length limit.
  const std::string padded = "t=1800000000,v0=" + std::string(kwh::web::k_max_signature_header, 'a') + ",v1=" + good;
  CHECK(verify_signature(k_secret, padded, k_body, k_now) == Verdict::malformed);
}

TEST_CASE("webhook notice: a good body") {
  const auto r = parse_payment(k_body);
  REQUIRE_MESSAGE(r.notice, r.error);
  CHECK(r.notice->id == "pay_1");
  CHECK(r.notice->account == "A-101");
  CHECK(r.notice->amount == 5000);
  CHECK(r.notice->currency == "CNY");
  CHECK(r.error.empty());

  // Whitespace anywhere JSON allows it, keys in any order, and the largest amount.
  const auto spaced = parse_payment(" \r\n\t{ \"currency\" : \"CNY\" ,\n \"amount\":999999999999999,"
                                    "\"account\":\"A-101\", \"id\":\"x\" }\n");
  REQUIRE_MESSAGE(spaced.notice, spaced.error);
  CHECK(spaced.notice->amount == 999'999'999'999'999);
  CHECK(refusal(R"({"id":"x","account":"A","amount":1,"currency":"CNY"})").empty());
}

TEST_CASE("webhook notice: other keys of any type are ignored") {
  const auto r = parse_payment(R"({"object":"event","id":"evt_9","livemode":false,"created":1800000000,)"
                               R"("fee":-1.5e-3,"metadata":{"note":"x","tags":[1,[2,[3,{}]],null,true,"\u00e9"]},)"
                               R"("account":"A-7","amount":120,"currency":"USD","extra":[],"more":{}})");
  REQUIRE_MESSAGE(r.notice, r.error);
  CHECK(r.notice->id == "evt_9");
  CHECK(r.notice->amount == 120);
  // The same unknown key twice is no business of ours; only the four known keys must be unique.
  CHECK(refusal(R"({"x":1,"x":2,"id":"i","account":"A","amount":1,"currency":"CNY"})").empty());
  // An ignored key nested 31 levels under the top-level object is fine, one more is not.
  const std::string ok_nesting = std::string(31, '[') + std::string(31, ']');
  const std::string deep_nesting = std::string(32, '[') + std::string(32, ']');
  CHECK(refusal(R"({"id":"i","account":"A","amount":1,"currency":"CNY","n":)" + ok_nesting + "}").empty());
  CHECK(!refusal(R"({"id":"i","account":"A","amount":1,"currency":"CNY","n":)" + deep_nesting + "}").empty());
  // A hundred thousand brackets neither recurse nor take long.
  CHECK(!refusal(R"({"n":)" + std::string(100'000, '[')).empty());
}

TEST_CASE("webhook notice: escapes decode to UTF-8") {
  const auto r = parse_payment(R"({"id":"a\"b\\c\/d","account":"\u0041-\u00e9\u4e2d\ud83d\ude00",)"
                               R"("amount":1,"currency":"\u0043NY"})");
  REQUIRE_MESSAGE(r.notice, r.error);
  CHECK(r.notice->id == "a\"b\\c/d");
  CHECK(r.notice->account == "A-\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80");
  CHECK(r.notice->currency == "CNY");
  // Raw UTF-8 passes as it is.
  const auto raw = parse_payment("{\"id\":\"\xe4\xb8\xad\",\"account\":\"A\",\"amount\":1,\"currency\":\"CNY\"}");
  REQUIRE_MESSAGE(raw.notice, raw.error);
  CHECK(raw.notice->id == "\xe4\xb8\xad");
  // An escaped key is the same key.
  const auto key = parse_payment(R"({"\u0069d":"i","account":"A","amount":1,"currency":"CNY"})");
  REQUIRE_MESSAGE(key.notice, key.error);
  CHECK(key.notice->id == "i");
  CHECK(!refusal(R"({"\u0069d":"i","id":"j","account":"A","amount":1,"currency":"CNY"})").empty());
}

TEST_CASE("webhook notice: the amount is a positive integer of minor units") {
  auto with_amount = [](std::string_view amount) {
    return refusal(R"({"id":"i","account":"A","currency":"CNY","amount":)" + std::string(amount) + "}");
  };
  CHECK(with_amount("1").empty());
  CHECK(with_amount("999999999999999").empty());
  for (std::string_view bad : {"0", "-0", "-1", "-5000", "50.00", "50.5", "5e3", "5E3", "5e+3", "1.0", "0.5",
                               "1000000000000000", "9223372036854775807", "9223372036854775808",
                               "99999999999999999999999999", "\"5000\"", "\"50.00\"", "null", "true", "[5000]",
                               "{}", "05", "00", "+5", "-", "5.", ".5", "0x10", "Infinity", "NaN", "1e", ""}) {
    CHECK_MESSAGE(!with_amount(bad).empty(), bad);
  }
  CHECK(with_amount("-1").find("greater than 0") != std::string::npos);
  CHECK(with_amount("50.5").find("whole number") != std::string::npos);
  CHECK(with_amount("\"5000\"").find("amount") != std::string::npos);
}

TEST_CASE("webhook notice: the text fields") {
  auto body = [](std::string_view id, std::string_view account = R"("A")", std::string_view currency = R"("CNY")") {
    return R"({"id":)" + std::string(id) + R"(,"account":)" + std::string(account) + R"(,"amount":1,"currency":)" +
           std::string(currency) + "}";
  };
  CHECK(refusal(body('"' + std::string(200, 'x') + '"')).empty());
  CHECK(refusal(body('"' + std::string(201, 'x') + '"')).find("longer than 200") != std::string::npos);
  for (std::string_view bad : {R"("")", "5", "null", "true", R"(["x"])", R"({"id":"x"})", R"("a\nb")", R"("a\u0000b")",
                               R"("a\u007fb")", R"("a\u0085b")", R"("\t")"}) {
    CHECK_MESSAGE(!refusal(body(bad)).empty(), bad);
    CHECK_MESSAGE(!refusal(body(R"("i")", bad)).empty(), bad);
    CHECK_MESSAGE(!refusal(body(R"("i")", R"("A")", bad)).empty(), bad);
  }
  CHECK(refusal(body("5")).find("id must be a string") != std::string::npos);
}

TEST_CASE("webhook notice: missing and repeated keys") {
  CHECK(refusal(R"({"account":"A","amount":1,"currency":"CNY"})") == "missing id");
  CHECK(refusal(R"({"id":"i","amount":1,"currency":"CNY"})") == "missing account");
  CHECK(refusal(R"({"id":"i","account":"A","currency":"CNY"})") == "missing amount");
  CHECK(refusal(R"({"id":"i","account":"A","amount":1})") == "missing currency");
  CHECK(refusal("{}") == "missing id");
  CHECK(refusal(R"({"id":"i","account":"A","amount":1,"currency":"CNY","id":"i"})") == "id is given twice");
  CHECK(refusal(R"({"id":"i","account":"A","amount":1,"currency":"CNY","amount":1})") == "amount is given twice");
  CHECK(refusal(R"({"id":"i","account":"A","account":"B","amount":1,"currency":"CNY"})") ==
        "account is given twice");
  CHECK(refusal(R"({"id":"i","account":"A","amount":1,"currency":"CNY","currency":"USD"})") ==
        "currency is given twice");
  // Case matters: "ID" is another key, ignored.
  CHECK(refusal(R"({"ID":"i","account":"A","amount":1,"currency":"CNY"})") == "missing id");
}

TEST_CASE("webhook notice: what is not JSON, or not an object, is refused") {
  const std::string good = R"({"id":"i","account":"A","amount":1,"currency":"CNY"})";
  for (std::size_t n = 0; n < good.size(); ++n) {
    CHECK_MESSAGE(!refusal(good.substr(0, n)).empty(), good.substr(0, n)); // every truncation
  }
  for (const std::string& bad : {
           std::string(""), std::string("   "), std::string("null"), std::string("[]"), std::string("\"x\""),
           std::string("5"), good + "x", good + good, good + ",", good + "\n}", "\xef\xbb\xbf" + good, // a BOM
           std::string(R"({"id":"i","account":"A","amount":1,"currency":"CNY",})"), // trailing comma
           std::string(R"({"id":"i" "account":"A","amount":1,"currency":"CNY"})"),  // no comma
           std::string(R"({"id" "i","account":"A","amount":1,"currency":"CNY"})"),  // no colon
           std::string(R"({id:"i","account":"A","amount":1,"currency":"CNY"})"),    // bare key
           std::string(R"({'id':'i','account':'A','amount':1,'currency':'CNY'})"),  // single quotes
           std::string("{\"id\":\"i") + '\0' + R"(","account":"A","amount":1,"currency":"CNY"})", // raw NUL
       }) {
    CHECK_MESSAGE(!refusal(bad).empty(), bad);
  }
  // Bad values under an ignored key spoil the body too.
  for (const std::string& x : {
           std::string("tru"), std::string("nul"), std::string("[1,]"), std::string("[1"), std::string(R"({"a"})"),
           std::string(R"({"a":1,})"), std::string("01"), std::string("1."), std::string("-"), std::string(".5"),
           std::string("1e"), std::string("+1"), std::string("NaN"),
           std::string(R"("\x")"),           // not an escape
           std::string(R"("\u12")"),         // a short \u
           std::string(R"("\ud83d")"),       // a lone high surrogate
           std::string(R"("\ude00")"),       // a lone low surrogate
           std::string(R"("\ud83d\u0041")"), // a high surrogate with no low one
           std::string("\"a\tb\""),          // a raw tab
           std::string("\"\xc3\""),          // a cut sequence
           std::string("\"\xc0\xaf\""),      // an overlong '/'
           std::string("\"\xed\xa0\x80\""),  // a surrogate in UTF-8
           std::string("\"\xf4\x90\x80\x80\""), // above U+10FFFF
           std::string("\"\xff\""),
       }) {
    CHECK_MESSAGE(!refusal(R"({"x":)" + x + R"(,"id":"i","account":"A","amount":1,"currency":"CNY"})").empty(), x);
  }
  CHECK(refusal("[]") == "the body must be a JSON object");
  CHECK(refusal(good + "x").find("invalid JSON") != std::string::npos);
}
