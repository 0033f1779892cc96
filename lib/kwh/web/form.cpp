#include <kwh/web/form.hpp>

#include <arpa/inet.h>

#include <array>
#include <cstdint>

namespace kwh::web {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

char to_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_lower(c);
  return out;
}

// HTTP's optional whitespace: spaces and tabs.
std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// `text` as an IPv4 address in dotted decimal or an IPv6 address in any of its text forms.
struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{}; // the first 4 for IPv4
};

std::optional<IpAddress> parse_ip(std::string_view text) {
  // The longest IPv6 text form, with an IPv4 tail, is 45 characters.
  if (text.empty() || text.size() > 45) return std::nullopt;
  const std::string nul_terminated(text);
  IpAddress a;
  if (inet_pton(AF_INET, nul_terminated.c_str(), a.bytes.data()) == 1) return a;
  a.v6 = true;
  if (inet_pton(AF_INET6, nul_terminated.c_str(), a.bytes.data()) == 1) return a;
  return std::nullopt;
}

bool is_loopback(std::string_view peer) {
  if (peer.size() >= 2 && peer.front() == '[' && peer.back() == ']') peer = peer.substr(1, peer.size() - 2);
  const auto a = parse_ip(peer);
  if (!a) return false;
  if (!a->v6) return a->bytes[0] == 127;
  constexpr std::array<std::uint8_t, 16> k_v6_loopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  if (a->bytes == k_v6_loopback) return true;
  // An IPv4 peer on a dual-stack socket: ::ffff:127.x.x.x.
  constexpr std::array<std::uint8_t, 12> k_v4_mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  for (std::size_t i = 0; i < k_v4_mapped.size(); ++i) {
    if (a->bytes[i] != k_v4_mapped[i]) return false;
  }
  return a->bytes[12] == 127;
}

bool is_host_name_char(char c) { return is_alnum(c) || c == '-' || c == '.' || c == '_'; }
bool is_ipv6_literal_char(char c) { return hex_digit(c) >= 0 || c == ':' || c == '.'; }

// The port of an authority, "" meaning the scheme's default; 0 when it is not one.
int parse_port(std::string_view text, int default_port) {
  if (text.empty()) return default_port;
  if (text.size() > 5) return 0;
  int port = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return 0;
    port = port * 10 + (c - '0');
  }
  return port <= 65535 ? port : 0;
}

} // namespace

std::optional<std::string> url_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (text.size() - i < 3) return std::nullopt;
      const int hi = hex_digit(text[i + 1]);
      const int lo = hex_digit(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string url_encode(std::string_view bytes) {
  static constexpr char k_digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) {
    if (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      const auto b = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(k_digits[b >> 4]);
      out.push_back(k_digits[b & 0xF]);
    }
  }
  return out;
}

std::optional<std::map<std::string, std::string>> parse_form(std::string_view body) {
  std::map<std::string, std::string> fields;
  std::size_t pos = 0;
  while (true) {
    const std::size_t amp = body.find('&', pos);
    const std::string_view piece = body.substr(pos, amp == std::string_view::npos ? amp : amp - pos);
    if (!piece.empty()) {
      if (fields.size() == k_max_form_fields) return std::nullopt;
      const std::size_t eq = piece.find('=');
      auto name = url_decode(piece.substr(0, eq));
      auto value = url_decode(eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1));
      if (!name || !value) return std::nullopt;
      if (!fields.emplace(std::move(*name), std::move(*value)).second) return std::nullopt;
    }
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return fields;
}

std::optional<std::string> cookie_value(std::string_view cookie_header, std::string_view name) {
  if (name.empty()) return std::nullopt;
  std::size_t pos = 0;
  while (true) {
    const std::size_t semi = cookie_header.find(';', pos);
    const std::string_view pair =
        cookie_header.substr(pos, semi == std::string_view::npos ? semi : semi - pos);
    const std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos && trim_blanks(pair.substr(0, eq)) == name) {
      std::string_view value = trim_blanks(pair.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      return std::string(value);
    }
    if (semi == std::string_view::npos) return std::nullopt;
    pos = semi + 1;
  }
}

std::optional<std::string> origin_of(std::string_view url) {
  const std::size_t separator = url.find("://");
  if (separator == std::string_view::npos) return std::nullopt;
  const std::string scheme = lower(url.substr(0, separator));
  int default_port = 0;
  if (scheme == "http") default_port = 80;
  else if (scheme == "https") default_port = 443;
  else return std::nullopt;

  const std::string_view rest = url.substr(separator + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  std::string_view host;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    host = authority.substr(0, close + 1);
    for (char c : host.substr(1, close - 1)) {
      if (!is_ipv6_literal_char(c)) return std::nullopt;
    }
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    if (host.empty()) return std::nullopt;
    for (char c : host) {
      if (!is_host_name_char(c)) return std::nullopt;
    }
  }
  // "http://host:" is the default port, as browsers read it.
  const int port = parse_port(port_text, default_port);
  if (port == 0) return std::nullopt;

  std::string origin = scheme + "://" + lower(host);
  if (port != default_port) origin += ":" + std::to_string(port);
  return origin;
}

std::string client_address(std::string_view peer, std::string_view forwarded_for_header, bool trust_forwarded) {
  if (!trust_forwarded || !is_loopback(peer)) return std::string(peer);
  const std::size_t comma = forwarded_for_header.rfind(',');
  const std::string_view last =
      trim_blanks(comma == std::string_view::npos ? forwarded_for_header : forwarded_for_header.substr(comma + 1));
  if (!parse_ip(last)) return std::string(peer);
  return std::string(last);
}

} // namespace kwh::web
