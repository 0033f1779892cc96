// Fuzzes what `kwh serve` reads from the network before anyone is trusted: the bytes go to
// Beast's request parser with kwh serve's limits (8 KiB of header, 64 KiB of body), and a request
// that parses has its body read as a form and as a payment notice, its Cookie, Kwh-Signature,
// Origin and X-Forwarded-For headers read as the handlers read them. The same bytes are also
// read directly as a notice, a form and a signature header, since most mutations of a body break
// its request's Content-Length. Besides not crashing, what parses must read back the same.

#include <kwh/web/form.hpp>
#include <kwh/web/webhook.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace http = boost::beast::http;

namespace {

constexpr std::string_view k_secret = "fuzz-provider-secret";
constexpr std::int64_t k_now = 1'800'000'000;

void require(bool ok, const char* what, std::string_view text) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_http: %s for '%.*s'\n", what, static_cast<int>(text.size()), text.data());
  std::abort();
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

void check_payment(std::string_view body) {
  const auto r = kwh::web::parse_payment(body);
  if (!r.notice) {
    require(!r.error.empty() && r.error.find('\n') == std::string::npos, "a refusal without a one-line error", body);
    return;
  }
  const auto& n = *r.notice;
  require(n.amount > 0 && n.amount <= kwh::web::k_max_notice_amount, "amount out of range", body);
  for (const std::string* s : {&n.id, &n.account, &n.currency}) {
    require(!s->empty() && s->size() <= kwh::web::k_max_notice_text, "text field out of range", body);
  }
  // The notice written back as JSON (its fields have no control characters) reads the same.
  const std::string again = "{\"id\":" + json_string(n.id) + ",\"account\":" + json_string(n.account) +
                            ",\"amount\":" + std::to_string(n.amount) + ",\"currency\":" + json_string(n.currency) +
                            "}";
  const auto r2 = kwh::web::parse_payment(again);
  require(r2.notice && r2.notice->id == n.id && r2.notice->account == n.account && r2.notice->amount == n.amount &&
              r2.notice->currency == n.currency,
          "a notice written back reads differently", again);
}

void check_form(std::string_view body) {
  const auto form = kwh::web::parse_form(body);
  if (!form) return;
  require(form->size() <= kwh::web::k_max_form_fields, "too many fields", body);
  std::string again;
  for (const auto& [name, value] : *form) {
    if (!again.empty()) again += '&';
    again += kwh::web::url_encode(name) + "=" + kwh::web::url_encode(value);
  }
  require(kwh::web::parse_form(again) == form, "a form written back reads differently", again);
}

void check_signature(std::string_view header, std::string_view body) {
  const auto parsed = kwh::web::parse_signature_header(header);
  const auto verdict = kwh::web::verify_signature(k_secret, header, body, k_now);
  require(parsed.has_value() == (verdict != kwh::web::Verdict::malformed), "parse and verify disagree", header);
  if (!parsed) return;
  require(parsed->t >= 0 && !parsed->v1.empty() && parsed->v1.size() <= kwh::web::k_max_signatures,
          "a signature header out of range", header);
  for (const std::string& mac : parsed->v1) require(mac.size() == 32, "a v1 that is not 32 bytes", header);
  const std::string signed_header = kwh::web::sign_header(k_secret, parsed->t, body);
  require(kwh::web::verify_signature(k_secret, signed_header, body, parsed->t) == kwh::web::Verdict::ok,
          "a header kwh signed does not verify", signed_header);
}

std::string_view text(boost::beast::string_view s) { return {s.data(), s.size()}; }

void check_request(const http::request<http::string_body>& request) {
  const std::string& body = request.body();
  check_form(body);
  check_payment(body);
  if (auto it = request.find(http::field::cookie); it != request.end()) {
    for (std::string_view name : {"__Host-kwh", "kwh"}) {
      if (auto value = kwh::web::cookie_value(text(it->value()), name)) {
        require(value->find(';') == std::string::npos, "a cookie value with ';'", *value);
      }
    }
  }
  if (auto it = request.find("Kwh-Signature"); it != request.end()) check_signature(text(it->value()), body);
  if (auto it = request.find(http::field::origin); it != request.end()) {
    if (auto origin = kwh::web::origin_of(text(it->value()))) {
      require(kwh::web::origin_of(*origin) == origin, "an origin that does not normalise to itself", *origin);
      for (char c : *origin) require(c < 'A' || c > 'Z', "an origin with upper case", *origin);
    }
  }
  if (auto it = request.find("X-Forwarded-For"); it != request.end()) {
    const std::string address = kwh::web::client_address("127.0.0.1", text(it->value()), true);
    for (char c : address) {
      require(c != ' ' && c != ',' && c != '\n' && c != '\r' && c != '\t', "a client address with a separator",
              address);
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check_payment(bytes);
  check_form(bytes);
  check_signature(bytes, "{}");

  http::request_parser<http::string_body> parser;
  parser.header_limit(8 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (used < size && !parser.is_done()) {
    const std::size_t n = parser.put(boost::asio::const_buffer(data + used, size - used), ec);
    if (ec || n == 0) break;
    used += n;
  }
  if (!ec && parser.is_done()) check_request(parser.get());
  return 0;
}
