#pragma once
// The small pieces of HTTP text that `kwh serve` reads from browsers and reverse proxies: form
// bodies, cookies, Origin headers and X-Forwarded-For. Pure functions; each refuses what it
// cannot read exactly rather than guessing, since what they return decides who a request is.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace kwh::web {

// %XX escapes (either case) to bytes, and '+' to a space when `plus_is_space` (form bodies; not
// paths). nullopt for a '%' without two hexadecimal digits after it.
std::optional<std::string> url_decode(std::string_view text, bool plus_is_space = true);

// RFC 3986's unreserved characters (letters, digits, "-._~") as they are, every other byte as
// %XX in upper case: safe in a path segment, a query value and a form field.
std::string url_encode(std::string_view bytes);

// kwh's forms have a handful of fields; more is not a form of ours.
inline constexpr std::size_t k_max_form_fields = 32;

// An application/x-www-form-urlencoded body, "a=1&b=x+y", to decoded names and values. Empty
// pieces ("a=1&&b=2") are skipped and a piece without '=' is a name with an empty value, as
// browsers do. nullopt for a bad escape, a name given twice (which of two csrf fields would
// count?) or more than k_max_form_fields fields.
std::optional<std::map<std::string, std::string>> parse_form(std::string_view body);

// The value of cookie `name` in a Cookie header "a=b; c=d" (RFC 6265 section 5.4), without the
// double quotes a value may be wrapped in. Names compare exactly. When a name comes more than
// once, the first is returned: browsers send the cookie with the longest path first.
std::optional<std::string> cookie_value(std::string_view cookie_header, std::string_view name);

// The origin of an http or https URL, as a browser writes it in an Origin header: scheme and
// host in lower case, the port only when it is not the scheme's default, no path:
// "https://Example.com:443/x" -> "https://example.com", "http://[::1]:8080" -> "http://[::1]:8080".
// nullopt for another scheme, no host, user information ("https://user@host"), a character
// that cannot be in a host name, or a port that is not 1..65535.
std::optional<std::string> origin_of(std::string_view url);

// The address a request comes from, for rate limits and the log. `peer` is the TCP peer's
// address. With `trust_forwarded` ([serve] forwarded_for) and a loopback peer (127.0.0.0/8, ::1
// or ::ffff:127.x.x.x: the reverse proxy on the same host), the last X-Forwarded-For entry, which
// that proxy appended, trimmed; but the peer when that entry is missing or not an IP address.
std::string client_address(std::string_view peer, std::string_view forwarded_for_header, bool trust_forwarded);

} // namespace kwh::web
