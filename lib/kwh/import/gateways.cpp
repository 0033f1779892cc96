// kwh gateway import: a row per gateway, its columns the options of `gateway add`; or, as
// `gateway list` prints them, transport, protocol, address and serial ("9600 8N1").

#include <kwh/import/detail.hpp>

#include <kwh/site/gateway.hpp>
#include <kwh/storage/database.hpp>

#include <fmt/format.h>

#include <cctype>
#include <climits>
#include <type_traits>

namespace kwh::import::detail {

namespace {

enum Col {
  c_name,
  c_tcp,
  c_rtu_over_tcp,
  c_rtu,
  c_dlt645_tcp,
  c_dlt645,
  c_transport,
  c_protocol,
  c_address,
  c_serial,
  c_baud,
  c_parity,
  c_stop_bits,
  c_rts,
  c_rts_delay_us,
  c_password,
  c_operator_code,
  c_timeout_ms,
  c_gap_ms,
  c_status,
  c_meters,
  c_retired,
};

int small_number(std::string_view text, std::string_view column) {
  const std::int64_t v = whole_number(text, column);
  if (v < INT_MIN || v > INT_MAX) fail(Exit::data, "{} {} is out of range", column, text);
  return static_cast<int>(v);
}

std::optional<int> opt_number(const Row& row, int col, std::string_view column) {
  auto t = row.text(col);
  if (!t) return std::nullopt;
  return small_number(*t, column);
}

// "9600 8N1", as `gateway list` prints a serial gateway's settings.
void parse_serial(std::string_view text, site::Gateway& g) {
  const auto space = text.find(' ');
  const std::string_view frame = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
  if (space == std::string_view::npos || frame.size() != 3 || frame[0] != '8')
    fail(Exit::data, "serial '{}' is not BAUD 8PS, such as 9600 8N1", text);
  g.baud = small_number(text.substr(0, space), "serial baud");
  char parity = frame[1];
  if (parity >= 'a' && parity <= 'z') parity = static_cast<char>(parity - 'a' + 'A');
  g.parity = parity;
  g.stop_bits = small_number(frame.substr(2), "serial stop bits");
}

std::string where_text(const site::Gateway& g) {
  return fmt::format("{} {}{}", transport::kind_name(g.transport), g.address,
                     g.protocol == transport::Protocol::dlt645 ? " (DL/T 645)" : "");
}

template <typename T> std::string opt_text(const std::optional<T>& v) {
  if (!v) return "(none)";
  if constexpr (std::is_same_v<T, char>) return std::string(1, *v);
  else return fmt::format("{}", *v);
}

std::vector<std::string> differences(const site::Gateway& a, const site::Gateway& b) {
  std::vector<std::string> out;
  if (a.transport != b.transport || a.protocol != b.protocol || a.address != b.address)
    out.push_back(fmt::format("{} -> {}", where_text(a), where_text(b)));
  auto cmp = [&](const char* what, const auto& x, const auto& y) {
    if (x != y) out.push_back(fmt::format("{} {} -> {}", what, opt_text(x), opt_text(y)));
  };
  cmp("baud", a.baud, b.baud);
  cmp("parity", a.parity, b.parity);
  cmp("stop_bits", a.stop_bits, b.stop_bits);
  cmp("timeout_ms", a.timeout_ms, b.timeout_ms);
  if (a.gap_ms != b.gap_ms) out.push_back(fmt::format("gap_ms {} -> {}", a.gap_ms, b.gap_ms));
  cmp("rts", a.rts, b.rts);
  cmp("rts_delay_us", a.rts_delay_us, b.rts_delay_us);
  // Secrets are named, never shown.
  if (a.password != b.password) out.emplace_back("password changed");
  if (a.operator_code != b.operator_code) out.emplace_back("operator_code changed");
  return out;
}

void import_gateway(Job& job, const Row& row, const std::string& id) {
  if (row.text(c_retired)) {
    job.done(row.line(), id, Action::skip, "retired (as gateway list --all prints it): not imported");
    return;
  }
  site::check_name("gateway", id);
  const auto existing = site::find_gateway(job.db, id);

  // Where it is: one of add's five options, or the list's transport, protocol and address.
  struct Where {
    site::Transport transport;
    transport::Protocol protocol;
    std::string address;
  };
  std::optional<Where> where;
  static constexpr std::pair<Col, const char*> k_ways[] = {
      {c_tcp, "tcp"}, {c_rtu_over_tcp, "rtu_over_tcp"}, {c_rtu, "rtu"}, {c_dlt645_tcp, "dlt645_tcp"}, {c_dlt645, "dlt645"}};
  int ways = 0;
  for (const auto& [col, name] : k_ways) ways += row.text(col) ? 1 : 0;
  const bool listed = row.text(c_transport) || row.text(c_protocol) || row.text(c_address);
  if (ways > 1) fail(Exit::data, "give one of tcp, rtu_over_tcp, rtu, dlt645_tcp and dlt645, not {}", ways);
  if (ways == 1 && listed)
    fail(Exit::data, "give tcp, rtu_over_tcp, rtu, dlt645_tcp or dlt645, or transport and address; not both");
  if (ways == 1) {
    for (const auto& [col, name] : k_ways) {
      auto v = row.text(col);
      if (!v) continue;
      const bool dlt645 = col == c_dlt645_tcp || col == c_dlt645;
      const bool serial = col == c_rtu || col == c_dlt645;
      where = Where{serial ? site::Transport::rtu_serial
                           : (col == c_tcp ? site::Transport::tcp : site::Transport::rtu_over_tcp),
                    dlt645 ? transport::Protocol::dlt645 : transport::Protocol::modbus, *v};
    }
  } else if (listed) {
    auto t = row.text(c_transport);
    auto a = row.text(c_address);
    if (!t) fail(Exit::data, "address without a transport (tcp, rtu-over-tcp or rtu)");
    auto kind = transport::parse_kind(*t);
    if (!kind) fail(Exit::data, "transport '{}' is not tcp, rtu-over-tcp or rtu", *t);
    auto p = row.text(c_protocol).value_or("modbus");
    if (p != "modbus" && p != "dlt645") fail(Exit::data, "protocol '{}' is not modbus or dlt645", p);
    if (!a) fail(Exit::data, "transport {} without an address", *t);
    where = Where{*kind, p == "dlt645" ? transport::Protocol::dlt645 : transport::Protocol::modbus, *a};
  }
  if (!where && !existing)
    fail(Exit::data, "a new gateway needs one of tcp, rtu_over_tcp, rtu, dlt645_tcp and dlt645 (or transport and "
                     "address, as gateway list prints them)");

  site::Gateway g = existing ? *existing : site::Gateway{};
  g.name = id;
  if (where) {
    if (existing && (g.transport != where->transport || g.protocol != where->protocol)) {
      // Another kind of bus: the old kind's settings go unless the row gives them again.
      g.baud.reset(), g.parity.reset(), g.stop_bits.reset(), g.rts.reset(), g.rts_delay_us.reset();
      if (where->protocol != transport::Protocol::dlt645) g.password.reset(), g.operator_code.reset();
    }
    g.transport = where->transport;
    g.protocol = where->protocol;
    g.address = where->address;
  }
  if (auto serial = row.text(c_serial)) {
    if (row.text(c_baud) || row.text(c_parity) || row.text(c_stop_bits))
      fail(Exit::data, "serial and baud, parity or stop_bits: give one or the other");
    parse_serial(*serial, g);
  } else if (row.has(c_serial)) {
    g.baud.reset(), g.parity.reset(), g.stop_bits.reset();
  }
  if (!row.text(c_serial)) {
    if (row.has(c_baud)) g.baud = opt_number(row, c_baud, "baud");
    if (row.has(c_parity)) {
      g.parity.reset();
      if (auto p = row.text(c_parity)) {
        if (p->size() != 1) fail(Exit::data, "parity must be N, E or O, not '{}'", *p);
        g.parity = static_cast<char>(std::toupper(static_cast<unsigned char>((*p)[0])));
      }
    }
    if (row.has(c_stop_bits)) g.stop_bits = opt_number(row, c_stop_bits, "stop_bits");
  }
  if (row.has(c_rts)) g.rts = row.text(c_rts);
  if (row.has(c_rts_delay_us)) g.rts_delay_us = opt_number(row, c_rts_delay_us, "rts_delay_us");
  if (row.has(c_password)) g.password = row.text(c_password);
  if (row.has(c_operator_code)) g.operator_code = row.text(c_operator_code);
  if (row.has(c_timeout_ms)) g.timeout_ms = opt_number(row, c_timeout_ms, "timeout_ms");
  if (row.has(c_gap_ms)) g.gap_ms = opt_number(row, c_gap_ms, "gap_ms").value_or(0);
  site::validate(g); // fills in a serial bus's defaults, as gateway add does

  if (!existing) {
    g = site::add_gateway_in(job.db, g);
    job.done(row.line(), id, Action::add, where_text(g));
    return;
  }
  const auto changes = differences(*existing, g);
  if (!changes.empty() && existing->retired)
    fail(Exit::data, "gateway {} was retired on {}; a retired gateway is not changed", id, format_time(*existing->retired));
  if (g.protocol != existing->protocol) {
    if (auto on = site::meters_on_gateway(job.db, existing->id); !on.empty())
      fail(Exit::data, "gateway {} has {} meter{} (the first: {}); its protocol does not change under them", id, on.size(),
           on.size() == 1 ? "" : "s", on.front());
  }
  job.changed(row.line(), "gateway", id, changes, [&] { site::update_gateway_in(job.db, g); });
}

} // namespace

const std::vector<ColumnSpec>& gateway_columns() {
  static const std::vector<ColumnSpec> k = {
      {"name", "gateway"}, {"tcp"},           {"rtu_over_tcp"},  {"rtu"},         {"dlt645_tcp"},    {"dlt645"},
      {"transport"},       {"protocol"},      {"address"},       {"serial"},      {"baud"},          {"parity"},
      {"stop_bits"},       {"rts"},           {"rts_delay_us"},  {"password"},    {"operator_code"}, {"timeout_ms"},
      {"gap_ms"},          {"status", "", true}, {"meters", "", true}, {"retired", "", true},
  };
  return k;
}

void import_gateways(Job& job, const Header& header, const std::vector<CsvRecord>& records) {
  for_each_row(job, Kind::gateways, header, records, [&](const Row& row, const std::string& id) { import_gateway(job, row, id); });
}

} // namespace kwh::import::detail
