#pragma once
// What a payment provider sends to `kwh serve` at POST /webhooks/NAME, checked before anything is
// believed: the Kwh-Signature header (Stripe's scheme: an HMAC-SHA256 of "t.body" under the
// provider's shared secret, with a timestamp against replays of old notices) and the JSON body
// naming the payment. Pure functions over text; the handler turns a verified notice into a sale.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kwh::web {

// Longer headers, and more v1 signatures, are refused before any MAC is computed, so that a
// stranger cannot make kwh serve hash a body many times over.
inline constexpr std::size_t k_max_signature_header = 2048;
inline constexpr std::size_t k_max_signatures = 8;

// Kwh-Signature: t=UNIX,v1=HEX[,v1=HEX...]
struct SignatureHeader {
  std::int64_t t = 0;
  std::vector<std::string> v1; // raw 32-byte MACs decoded from hex
};

// Items are "key=value" separated by commas (blanks around an item are allowed). Keys other
// than t and v1 (a provider's v0, or a scheme added later) are ignored, and so is a v1 that is
// not 64 hexadecimal digits, as Stripe does. nullopt unless there is exactly one t, in canonical
// decimal (at most 18 digits, no sign, no leading zero), at least one well-formed v1 and at most
// k_max_signatures v1 items in all, and the header is at most k_max_signature_header bytes.
std::optional<SignatureHeader> parse_signature_header(std::string_view value);

enum class Verdict {
  ok,
  malformed, // the header does not parse: 400
  stale,     // a right signature, but t is more than the tolerance away from now: 401
  mismatch,  // no v1 is the MAC of the body under the secret: 401
};

// Checks that one of the header's v1 is HMAC-SHA256(secret, t + "." + body), comparing in
// constant time, and then that |now - t| <= tolerance seconds (in both directions, since a
// provider's clock may be ahead of ours). An empty secret verifies nothing. A wrong signature is
// a mismatch even when it is also stale; stale means the provider really sent it, which points
// at a clock or a retry.
Verdict verify_signature(std::string_view secret, std::string_view header, std::string_view body, std::int64_t now,
                         std::int64_t tolerance = 300);

// The header a provider would send for `body` at time `t` (t >= 0): for tests, the benchmark and
// the examples in the documentation.
std::string sign_header(std::string_view secret, std::int64_t t, std::string_view body);

// The body of a payment notice: {"id": ..., "account": ..., "amount": ..., "currency": ...}.
struct PaymentNotice {
  std::string id;       // the provider's payment ID; the sale's ref is "NAME:ID"
  std::string account;  // the kwh account ID
  std::string currency; // must equal [currency] of kwh.toml; the handler checks
  std::int64_t amount = 0; // minor units, > 0
};

struct ParseResult {
  std::optional<PaymentNotice> notice;
  std::string error; // when there is no notice: one line for the 400 body, without the input's text
};

inline constexpr std::size_t k_max_notice_text = 200;  // bytes of id, account and currency each
inline constexpr std::int64_t k_max_notice_amount = 999'999'999'999'999; // below 10^15 minor units
inline constexpr int k_max_json_depth = 32;

// Strict JSON (RFC 8259) with nothing but whitespace after the top-level object, which must
// have "id", "account" and "currency" as non-empty strings of at most k_max_notice_text bytes
// without control characters, and "amount" as a plain integer from 1 to k_max_notice_amount
// (no fraction, no exponent, no sign). Other keys may hold any JSON value, nested at most
// k_max_json_depth deep, and are ignored. Any of the four keys given twice, invalid UTF-8 or an
// escape that is not one (including an unpaired surrogate) is an error.
ParseResult parse_payment(std::string_view body);

} // namespace kwh::web
