#include <kwh/web/webhook.hpp>

#include <kwh/crypto/hmac.hpp>

#include <fmt/format.h>

#include <charconv>
#include <cstdint>

namespace kwh::web {

namespace {

constexpr std::size_t k_mac_hex_digits = 64;
// 18 digits always fit in an int64; a provider's clock will not need a 19th for a while.
constexpr std::size_t k_max_timestamp_digits = 18;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Canonical decimal only, so that the text signed is the text of the number we parsed.
std::optional<std::int64_t> parse_timestamp(std::string_view s) {
  if (s.empty() || s.size() > k_max_timestamp_digits) return std::nullopt;
  if (s.size() > 1 && s.front() == '0') return std::nullopt;
  std::int64_t t = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    t = t * 10 + (c - '0');
  }
  return t;
}

std::string signed_text(std::int64_t t, std::string_view body) {
  std::string text = std::to_string(t);
  text += '.';
  text.append(body);
  return text;
}

// The length of the well-formed UTF-8 sequence at the start of `s` whose first byte is not
// ASCII, or 0 when it is not one (overlong forms, surrogates and code points above U+10FFFF are
// not), following the table of well-formed byte sequences in the Unicode standard.
std::size_t utf8_sequence_length(std::string_view s) {
  auto byte = [&](std::size_t i) -> unsigned { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0x100u; };
  auto in = [&](std::size_t i, unsigned lo, unsigned hi) { return byte(i) >= lo && byte(i) <= hi; };
  const unsigned b0 = byte(0);
  if (b0 >= 0xC2 && b0 <= 0xDF) return in(1, 0x80, 0xBF) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    const unsigned lo = b0 == 0xE0 ? 0xA0 : 0x80;
    const unsigned hi = b0 == 0xED ? 0x9F : 0xBF;
    return in(1, lo, hi) && in(2, 0x80, 0xBF) ? 3 : 0;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    const unsigned lo = b0 == 0xF0 ? 0x90 : 0x80;
    const unsigned hi = b0 == 0xF4 ? 0x8F : 0xBF;
    return in(1, lo, hi) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// C0 controls, DEL and the C1 controls (U+0080..U+009F, which UTF-8 writes as C2 80..C2 9F).
bool has_control_character(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return true;
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9F) return true;
  }
  return false;
}

struct NumberText {
  std::string_view text;
  bool negative = false;
  bool fraction = false;
  bool exponent = false;
};

// A reader of RFC 8259 JSON over a body in memory. Every method returns false after recording
// the first error; the callers stop at the first false.
class JsonReader {
public:
  explicit JsonReader(std::string_view text) : m_text(text) {}

  const std::string& error() const { return m_error; }

  // A JSON syntax error, with where it is.
  bool fail(std::string_view what) {
    if (m_error.empty()) m_error = fmt::format("invalid JSON: {} at byte {}", what, m_pos);
    return false;
  }
  // Valid JSON that is not a payment notice.
  bool reject(std::string message) {
    if (m_error.empty()) m_error = std::move(message);
    return false;
  }

  void skip_space() {
    while (m_pos < m_text.size() &&
           (m_text[m_pos] == ' ' || m_text[m_pos] == '\t' || m_text[m_pos] == '\n' || m_text[m_pos] == '\r')) {
      ++m_pos;
    }
  }
  // The next character, or NUL at the end (a raw NUL is never valid JSON outside a string).
  char peek() const { return m_pos < m_text.size() ? m_text[m_pos] : '\0'; }
  bool consume(char c) {
    if (at_end() || m_text[m_pos] != c) return false;
    ++m_pos;
    return true;
  }
  bool at_end() const { return m_pos == m_text.size(); }

  // A string starting at the current '"', unescaped into `out`.
  bool string(std::string& out) {
    out.clear();
    ++m_pos; // the opening quote
    while (true) {
      if (m_pos >= m_text.size()) return fail("unterminated string");
      const auto c = static_cast<unsigned char>(m_text[m_pos]);
      if (c == '"') {
        ++m_pos;
        return true;
      }
      if (c < 0x20) return fail("control character in a string");
      if (c == '\\') {
        if (!escape(out)) return false;
      } else if (c < 0x80) {
        out.push_back(static_cast<char>(c));
        ++m_pos;
      } else {
        const std::size_t n = utf8_sequence_length(m_text.substr(m_pos));
        if (n == 0) return fail("invalid UTF-8 in a string");
        out.append(m_text.substr(m_pos, n));
        m_pos += n;
      }
    }
  }

  // A number starting at the current '-' or digit, checked against the grammar.
  bool number(NumberText& n) {
    const std::size_t start = m_pos;
    n = NumberText{};
    if (consume('-')) n.negative = true;
    if (!is_digit(peek())) return fail("invalid number");
    if (consume('0')) {
      if (is_digit(peek())) return fail("a number with a leading zero");
    } else {
      skip_digits();
    }
    if (consume('.')) {
      n.fraction = true;
      if (!is_digit(peek())) return fail("invalid number");
      skip_digits();
    }
    if (consume('e') || consume('E')) {
      n.exponent = true;
      if (!consume('+')) consume('-');
      if (!is_digit(peek())) return fail("invalid number");
      skip_digits();
    }
    n.text = m_text.substr(start, m_pos - start);
    return true;
  }

  // Any value, checked and skipped; `depth` is the number of arrays and objects around it.
  bool value(int depth) {
    skip_space();
    const char c = peek();
    if (c == '{' || c == '[') {
      if (depth >= k_max_json_depth) return fail("arrays and objects nested too deeply");
      return c == '{' ? object(depth + 1) : array(depth + 1);
    }
    if (c == '"') {
      std::string ignored;
      return string(ignored);
    }
    if (c == '-' || is_digit(c)) {
      NumberText ignored;
      return number(ignored);
    }
    for (std::string_view word : {"true", "false", "null"}) {
      if (m_text.substr(m_pos, word.size()) == word) {
        m_pos += word.size();
        return true;
      }
    }
    return fail(at_end() ? "unexpected end" : "unexpected character");
  }

private:
  void skip_digits() {
    while (is_digit(peek())) ++m_pos;
  }

  bool object(int depth) {
    ++m_pos; // '{'
    skip_space();
    if (consume('}')) return true;
    while (true) {
      skip_space();
      if (peek() != '"') return fail("expected a key");
      std::string key;
      if (!string(key)) return false;
      skip_space();
      if (!consume(':')) return fail("expected ':'");
      if (!value(depth)) return false;
      skip_space();
      if (consume('}')) return true;
      if (!consume(',')) return fail("expected ',' or '}'");
    }
  }

  bool array(int depth) {
    ++m_pos; // '['
    skip_space();
    if (consume(']')) return true;
    while (true) {
      if (!value(depth)) return false;
      skip_space();
      if (consume(']')) return true;
      if (!consume(',')) return fail("expected ',' or ']'");
    }
  }

  std::optional<std::uint32_t> hex4() {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = peek();
      int d = -1;
      if (is_digit(c)) d = c - '0';
      if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0) {
        fail("invalid \\u escape");
        return std::nullopt;
      }
      v = v * 16 + static_cast<std::uint32_t>(d);
      ++m_pos;
    }
    return v;
  }

  // An escape at the current backslash; \u escapes of UTF-16 surrogates must come in pairs.
  bool escape(std::string& out) {
    ++m_pos; // the backslash
    const char e = peek();
    if (at_end()) return fail("unterminated string");
    ++m_pos;
    switch (e) {
    case '"': out.push_back('"'); return true;
    case '\\': out.push_back('\\'); return true;
    case '/': out.push_back('/'); return true;
    case 'b': out.push_back('\b'); return true;
    case 'f': out.push_back('\f'); return true;
    case 'n': out.push_back('\n'); return true;
    case 'r': out.push_back('\r'); return true;
    case 't': out.push_back('\t'); return true;
    case 'u': break;
    default: --m_pos; return fail("invalid escape");
    }
    auto cp = hex4();
    if (!cp) return false;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF) return fail("unpaired surrogate");
    if (*cp >= 0xD800 && *cp <= 0xDBFF) {
      if (m_text.substr(m_pos, 2) != "\\u") return fail("unpaired surrogate");
      m_pos += 2;
      auto low = hex4();
      if (!low) return false;
      if (*low < 0xDC00 || *low > 0xDFFF) return fail("unpaired surrogate");
      *cp = 0x10000 + ((*cp - 0xD800) << 10) + (*low - 0xDC00);
    }
    append_utf8(out, *cp);
    return true;
  }

  std::string_view m_text;
  std::size_t m_pos = 0;
  std::string m_error;
};

struct NoticeFields {
  std::optional<std::string> id, account, currency;
  std::optional<std::int64_t> amount;
};

bool read_text_field(JsonReader& in, std::string_view key, std::optional<std::string>& slot) {
  if (slot) return in.reject(fmt::format("{} is given twice", key));
  if (in.peek() != '"') return in.reject(fmt::format("{} must be a string", key));
  std::string text;
  if (!in.string(text)) return false;
  if (text.empty()) return in.reject(fmt::format("{} must not be empty", key));
  if (text.size() > k_max_notice_text) {
    return in.reject(fmt::format("{} is longer than {} bytes", key, k_max_notice_text));
  }
  if (has_control_character(text)) return in.reject(fmt::format("{} contains a control character", key));
  slot = std::move(text);
  return true;
}

bool read_amount(JsonReader& in, std::optional<std::int64_t>& slot) {
  if (slot) return in.reject("amount is given twice");
  if (in.peek() != '-' && !is_digit(in.peek())) return in.reject("amount must be a number (minor units)");
  NumberText n;
  if (!in.number(n)) return false;
  if (n.fraction || n.exponent) {
    return in.reject("amount must be a whole number of minor units, without a fraction or an exponent");
  }
  if (n.negative || n.text == "0") return in.reject("amount must be greater than 0");
  std::int64_t amount = 0;
  const auto [end, ec] = std::from_chars(n.text.data(), n.text.data() + n.text.size(), amount);
  if (ec != std::errc() || end != n.text.data() + n.text.size() || amount > k_max_notice_amount) {
    return in.reject(fmt::format("amount must be at most {} minor units", k_max_notice_amount));
  }
  slot = amount;
  return true;
}

bool read_member(JsonReader& in, const std::string& key, NoticeFields& f) {
  in.skip_space();
  if (key == "id") return read_text_field(in, key, f.id);
  if (key == "account") return read_text_field(in, key, f.account);
  if (key == "currency") return read_text_field(in, key, f.currency);
  if (key == "amount") return read_amount(in, f.amount);
  return in.value(1);
}

bool read_notice(JsonReader& in, NoticeFields& f) {
  in.skip_space();
  if (!in.consume('{')) return in.reject("the body must be a JSON object");
  in.skip_space();
  if (!in.consume('}')) {
    while (true) {
      in.skip_space();
      if (in.peek() != '"') return in.fail("expected a key");
      std::string key;
      if (!in.string(key)) return false;
      in.skip_space();
      if (!in.consume(':')) return in.fail("expected ':'");
      if (!read_member(in, key, f)) return false;
      in.skip_space();
      if (in.consume('}')) break;
      if (!in.consume(',')) return in.fail("expected ',' or '}'");
    }
  }
  in.skip_space();
  if (!in.at_end()) return in.fail("text after the object");
  if (!f.id) return in.reject("missing id");
  if (!f.account) return in.reject("missing account");
  if (!f.amount) return in.reject("missing amount");
  if (!f.currency) return in.reject("missing currency");
  return true;
}

} // namespace

std::optional<SignatureHeader> parse_signature_header(std::string_view value) {
  if (value.size() > k_max_signature_header) return std::nullopt;
  SignatureHeader header;
  bool have_t = false;
  std::size_t v1_items = 0;
  std::size_t pos = 0;
  while (true) {
    const std::size_t comma = value.find(',', pos);
    const std::string_view item =
        trim_blanks(value.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) return std::nullopt;
    const std::string_view key = item.substr(0, eq);
    const std::string_view text = item.substr(eq + 1);
    if (key == "t") {
      auto t = parse_timestamp(text);
      if (have_t || !t) return std::nullopt;
      header.t = *t;
      have_t = true;
    } else if (key == "v1") {
      if (++v1_items > k_max_signatures) return std::nullopt;
      if (text.size() == k_mac_hex_digits) {
        if (auto mac = crypto::from_hex(text)) header.v1.push_back(std::move(*mac));
      }
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  if (!have_t || header.v1.empty()) return std::nullopt;
  return header;
}

Verdict verify_signature(std::string_view secret, std::string_view header, std::string_view body, std::int64_t now,
                         std::int64_t tolerance) {
  const auto parsed = parse_signature_header(header);
  if (!parsed) return Verdict::malformed;
  // Anyone can compute a MAC under the empty key.
  if (secret.empty()) return Verdict::mismatch;
  const crypto::Mac mac = crypto::hmac_sha256(secret, signed_text(parsed->t, body));
  const std::string_view expected(reinterpret_cast<const char*>(mac.data()), mac.size());
  bool match = false;
  for (const std::string& v1 : parsed->v1) match = crypto::equal(expected, v1) || match;
  if (!match) return Verdict::mismatch;
  if (tolerance < 0) return Verdict::stale;
  // The distance in uint64, where it cannot overflow whatever `now` is (t is never negative).
  const auto t = static_cast<std::uint64_t>(parsed->t);
  const auto n = static_cast<std::uint64_t>(now);
  const std::uint64_t distance = now >= parsed->t ? n - t : t - n;
  return distance > static_cast<std::uint64_t>(tolerance) ? Verdict::stale : Verdict::ok;
}

std::string sign_header(std::string_view secret, std::int64_t t, std::string_view body) {
  const crypto::Mac mac = crypto::hmac_sha256(secret, signed_text(t, body));
  return fmt::format("t={},v1={}", t, crypto::to_hex(mac.data(), mac.size()));
}

ParseResult parse_payment(std::string_view body) {
  JsonReader in(body);
  NoticeFields f;
  ParseResult result;
  if (!read_notice(in, f)) {
    result.error = in.error();
    return result;
  }
  result.notice = PaymentNotice{std::move(*f.id), std::move(*f.account), std::move(*f.currency), *f.amount};
  return result;
}

} // namespace kwh::web
