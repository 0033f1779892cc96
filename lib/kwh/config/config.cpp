#include <kwh/config/config.hpp>

#include <kwh/util/time.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

namespace kwh::config {

namespace {

[[noreturn]] void bad_value(const std::string& file, const toml::node& node, const std::string& key,
                            const std::string& why) {
  fail(Exit::config, "{}:{}: {}: {}", file, node.source().begin.line, key, why);
}

std::string as_string(const std::string& file, const toml::node& n, const std::string& key) {
  if (auto v = n.value_exact<std::string>()) return *v;
  bad_value(file, n, key, "expected a string");
}

std::int64_t as_int(const std::string& file, const toml::node& n, const std::string& key, std::int64_t lo,
                    std::int64_t hi) {
  // Only an integer node: toml++'s value<int64_t>() of a float casts it, out of range too.
  if (!n.is_integer()) bad_value(file, n, key, "expected an integer");
  auto v = n.value_exact<std::int64_t>();
  if (*v < lo || *v > hi) bad_value(file, n, key, fmt::format("must be between {} and {}", lo, hi));
  return *v;
}

std::chrono::milliseconds as_duration(const std::string& file, const toml::node& n, const std::string& key,
                                      std::chrono::milliseconds lo, std::chrono::milliseconds hi) {
  auto d = parse_duration(as_string(file, n, key));
  if (!d) bad_value(file, n, key, d.error().what());
  if (*d < lo || *d > hi)
    bad_value(file, n, key, fmt::format("must be between {} and {}", format_duration(lo), format_duration(hi)));
  return *d;
}

std::vector<std::string> as_string_array(const std::string& file, const toml::node& n, const std::string& key) {
  const auto* arr = n.as_array();
  if (!arr) bad_value(file, n, key, "expected an array of strings");
  std::vector<std::string> out;
  for (const auto& e : *arr) out.push_back(as_string(file, e, key));
  return out;
}

int parse_hhmm(std::string_view s) {
  if (s.size() != 5 || s[2] != ':' || !isdigit(s[0]) || !isdigit(s[1]) || !isdigit(s[3]) || !isdigit(s[4]))
    return -1;
  int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 24 || m > 59 || (h == 24 && m != 0)) return -1;
  return h * 60 + m;
}

int parse_weekday(std::string_view s) {
  static constexpr const char* k_days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  for (int i = 0; i < 7; ++i)
    if (s == k_days[i]) return i;
  return -1;
}

// A retention period: "forever", or a count of minutes, hours, days, weeks or years ("90d",
// "2y"; a year is 365 days), at least `lo` and at most 100 years.
std::optional<std::chrono::seconds> as_period(const std::string& file, const toml::node& n, const std::string& key,
                                              std::chrono::seconds lo) {
  const std::string s = as_string(file, n, key);
  if (s == "forever") return std::nullopt;
  std::size_t i = 0;
  std::int64_t count = 0;
  while (i < s.size() && isdigit(static_cast<unsigned char>(s[i])) && count < 1'000'000) count = count * 10 + (s[i++] - '0');
  static const std::map<std::string, std::int64_t> k_units = {
      {"m", 60}, {"h", 3600}, {"d", 86'400}, {"w", 7 * 86'400}, {"y", 365 * 86'400}};
  auto unit = k_units.find(s.substr(i));
  if (i == 0 || unit == k_units.end())
    bad_value(file, n, key, fmt::format("'{}' is not a period like \"90d\", \"2y\" or \"forever\"", s));
  const std::chrono::seconds d(count * unit->second);
  if (d < lo || d > std::chrono::hours(24 * 365 * 100))
    bad_value(file, n, key, fmt::format("must be between {} and 100y, or \"forever\"", format_duration(lo)));
  return d;
}

// A hook's program: "/path/to/program", or ["/path/to/program", "arg", ...]. Run without a shell,
// so the path must be absolute.
std::vector<std::string> as_program(const std::string& file, const toml::node& n, const std::string& key) {
  std::vector<std::string> argv;
  if (n.is_string()) argv.push_back(as_string(file, n, key));
  else if (n.is_array()) argv = as_string_array(file, n, key);
  else bad_value(file, n, key, "expected a program's path, or an array of the program and its arguments");
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/')
    bad_value(file, n, key, "the program must be an absolute path (it is run without a shell)");
  return argv;
}

using Setter = std::function<void(Config&, const toml::node&, const std::string& file)>;

struct Key {
  KeyInfo info;
  Setter set;
};

// The one table of known keys. Order matters where one value is read in terms of another:
// minor_units comes before the money keys.
const std::vector<Key>& keys() {
  static const std::vector<Key> k_keys = {
      {{"database", "/var/lib/kwh/kwh.db", "the SQLite database"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.database = as_string(f, n, "database");
         if (c.database.empty()) bad_value(f, n, "database", "must not be empty");
         c.database_set = true;
       }},
      {{"timezone", "(the system's)", "site time zone, an IANA name such as Asia/Shanghai"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.timezone = as_string(f, n, "timezone");
         std::error_code ec;
         if (c.timezone.empty() || c.timezone.find("..") != std::string::npos || c.timezone[0] == '/' ||
             !std::filesystem::is_regular_file("/usr/share/zoneinfo/" + c.timezone, ec))
           bad_value(f, n, "timezone", fmt::format("unknown time zone '{}'", c.timezone));
       }},
      {{"currency", "CNY", "currency shown on receipts and reports"},
       [](Config& c, const toml::node& n, const std::string& f) { c.currency = as_string(f, n, "currency"); }},
      {{"minor_units", "2", "decimals of money (0..6)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.minor_units = static_cast<int>(as_int(f, n, "minor_units", 0, Money::k_max_minor_units));
       }},
      {{"profiles", "[\"/etc/kwh/profiles\"]", "folders searched for profiles after the built-ins"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.profiles = as_string_array(f, n, "profiles");
       }},
      {{"poll.interval", "30m", "poll interval, 1s .. 24h"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.poll.interval = as_duration(f, n, "poll.interval", std::chrono::seconds(1), std::chrono::hours(24));
       }},
      {{"poll.timeout", "500ms", "default response timeout; a gateway may override"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.poll.timeout =
             as_duration(f, n, "poll.timeout", std::chrono::milliseconds(10), std::chrono::seconds(60));
       }},
      {{"poll.retries", "1", "extra tries of a failed request within one poll"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.poll.retries = static_cast<int>(as_int(f, n, "poll.retries", 0, 10));
       }},
      {{"poll.offline_after", "3", "failed polls in a row before a meter is offline"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.poll.offline_after = static_cast<int>(as_int(f, n, "poll.offline_after", 1, 1000));
       }},
      {{"poll.sync_time", "off", "site-local time of day kwhd sets meters' clocks, e.g. \"03:00\""},
       [](Config& c, const toml::node& n, const std::string& f) {
         auto s = as_string(f, n, "poll.sync_time");
         if (s == "off") {
           c.poll.sync_time.reset();
           return;
         }
         int m = parse_hhmm(s);
         if (m < 0 || m == 24 * 60) bad_value(f, n, "poll.sync_time", fmt::format("'{}' is not a time like \"03:00\" or \"off\"", s));
         c.poll.sync_time = m;
       }},
      {{"poll.max_drift", "60s", "a meter's clock further off than this is a clock_drift event"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.poll.max_drift = std::chrono::duration_cast<std::chrono::seconds>(
             as_duration(f, n, "poll.max_drift", std::chrono::seconds(1), std::chrono::hours(24 * 365)));
       }},
      {{"poll.max_backlog", "50000", "readings kept while the database is busy; older ones are dropped past it"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.poll.max_backlog = as_int(f, n, "poll.max_backlog", 10, 100'000'000);
       }},
      {{"billing.reconnect_above", "0", "balance above which relays opened for arrears close again"},
       [](Config& c, const toml::node& n, const std::string& f) {
         auto m = Money::parse(as_string(f, n, "billing.reconnect_above"), c.minor_units, true);
         if (!m) bad_value(f, n, "billing.reconnect_above", m.error().what());
         c.billing.reconnect_above = *m;
       }},
      {{"billing.friendly_hours", "[]", "no automatic disconnection inside, e.g. [\"18:00-08:00\"]"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.billing.friendly_hours.clear();
         for (const auto& s : as_string_array(f, n, "billing.friendly_hours")) {
           auto dash = s.find('-');
           int a = dash == std::string::npos ? -1 : parse_hhmm(std::string_view(s).substr(0, dash));
           int b = dash == std::string::npos ? -1 : parse_hhmm(std::string_view(s).substr(dash + 1));
           if (a < 0 || b < 0 || a == b)
             bad_value(f, n, "billing.friendly_hours", fmt::format("'{}' is not a window like \"18:00-08:00\"", s));
           if (a == 24 * 60) // 24:00 ends a day; it starts none
             bad_value(f, n, "billing.friendly_hours", fmt::format("'{}' starts at 24:00; start it at 00:00", s));
           c.billing.friendly_hours.push_back({a, b});
         }
       }},
      {{"billing.friendly_days", "[]", "no automatic disconnection on these days, e.g. [\"sat\", \"sun\"]"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.billing.friendly_days.clear();
         for (const auto& s : as_string_array(f, n, "billing.friendly_days")) {
           int d = parse_weekday(s);
           if (d < 0) bad_value(f, n, "billing.friendly_days", fmt::format("'{}' is not a day (mon .. sun)", s));
           c.billing.friendly_days.push_back(d);
         }
       }},
      {{"billing.overload_action", "event", "event | trip"},
       [](Config& c, const toml::node& n, const std::string& f) {
         auto s = as_string(f, n, "billing.overload_action");
         if (s == "event") c.billing.overload_action = OverloadAction::event;
         else if (s == "trip") c.billing.overload_action = OverloadAction::trip;
         else bad_value(f, n, "billing.overload_action", "must be \"event\" or \"trip\"");
       }},
      {{"billing.max_power_w", "100000", "most a meter can draw, for the implausible-reading rule"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.billing.max_power_w = as_int(f, n, "billing.max_power_w", 1, 100'000'000);
       }},
      {{"billing.emergency_credit", "0", "emergency credit an account may take once (0: none); repaid first from the next sale"},
       [](Config& c, const toml::node& n, const std::string& f) {
         auto m = Money::parse(as_string(f, n, "billing.emergency_credit"), c.minor_units, false);
         if (!m) bad_value(f, n, "billing.emergency_credit", m.error().what());
         c.billing.emergency_credit = *m;
       }},
      {{"billing.emergency_offer_below", "0", "emergency credit is offered once the balance is at or below this"},
       [](Config& c, const toml::node& n, const std::string& f) {
         auto m = Money::parse(as_string(f, n, "billing.emergency_offer_below"), c.minor_units, true);
         if (!m) bad_value(f, n, "billing.emergency_offer_below", m.error().what());
         c.billing.emergency_offer_below = *m;
       }},
      {{"billing.emergency_credit_auto", "false", "grant emergency credit without asking once it is offered"},
       [](Config& c, const toml::node& n, const std::string& f) {
         auto v = n.value_exact<bool>();
         if (!v) bad_value(f, n, "billing.emergency_credit_auto", "expected true or false");
         c.billing.emergency_credit_auto = *v;
       }},
      {{"billing.debt_min_energy_share", "50", "percent of every sale that buys energy, whatever debts recover (0 .. 100)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.billing.debt_min_energy_share = static_cast<int>(as_int(f, n, "billing.debt_min_energy_share", 0, 100));
       }},
      {{"billing.standing_while_disconnected", "debt", "debt | balance: standing charges due while a relay is open for arrears"},
       [](Config& c, const toml::node& n, const std::string& f) {
         auto s = as_string(f, n, "billing.standing_while_disconnected");
         if (s == "debt") c.billing.standing_while_disconnected_debt = true;
         else if (s == "balance") c.billing.standing_while_disconnected_debt = false;
         else bad_value(f, n, "billing.standing_while_disconnected", "must be \"debt\" or \"balance\"");
       }},
      {{"retention.raw", "90d", "raw readings kept this long, then thinned; \"forever\" keeps all (2d .. 100y)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.retention.raw = as_period(f, n, "retention.raw", std::chrono::hours(48));
       }},
      {{"retention.thin_to", "1h", "readings older than raw are thinned to one per this (1m .. 1d)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         auto d = as_duration(f, n, "retention.thin_to", std::chrono::minutes(1), std::chrono::hours(24));
         if (d % std::chrono::seconds(1) != std::chrono::milliseconds(0))
           bad_value(f, n, "retention.thin_to", "must be whole seconds");
         c.retention.thin_to = std::chrono::duration_cast<std::chrono::seconds>(d);
       }},
      {{"retention.events", "2y", "events kept this long (active alarms stay); \"forever\" keeps all (1d .. 100y)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.retention.events = as_period(f, n, "retention.events", std::chrono::hours(24));
       }},
      {{"retention.prune_at", "03:00", "site-local time at which kwhd prunes each day"},
       [](Config& c, const toml::node& n, const std::string& f) {
         int m = parse_hhmm(as_string(f, n, "retention.prune_at"));
         if (m < 0 || m >= 24 * 60) bad_value(f, n, "retention.prune_at", "expected a time of day like \"03:00\"");
         c.retention.prune_at_minute = m;
       }},
      {{"metrics.listen", "\"\"", "Prometheus metrics address, e.g. 127.0.0.1:9464; empty: off"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.metrics.listen = as_string(f, n, "metrics.listen");
         if (!c.metrics.listen.empty() && c.metrics.listen.rfind(':') == std::string::npos)
           bad_value(f, n, "metrics.listen", "expected host:port");
       }},
      {{"serve.listen", "127.0.0.1:8080", "kwh serve's address (host:port)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.serve.listen = as_string(f, n, "serve.listen");
         if (c.serve.listen.rfind(':') == std::string::npos) bad_value(f, n, "serve.listen", "expected host:port");
       }},
      {{"serve.base_url", "\"\"", "the service's public URL, e.g. https://pay.example.com; empty: http://LISTEN"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.serve.base_url = as_string(f, n, "serve.base_url");
         const auto& u = c.serve.base_url;
         if (!u.empty() && u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0)
           bad_value(f, n, "serve.base_url", "expected an http:// or https:// URL");
         while (!c.serve.base_url.empty() && c.serve.base_url.back() == '/') c.serve.base_url.pop_back();
       }},
      {{"serve.secret_file", "\"\"", "the key of login links and sessions; empty: serve.secret beside the database"},
       [](Config& c, const toml::node& n, const std::string& f) { c.serve.secret_file = as_string(f, n, "serve.secret_file"); }},
      {{"serve.link_ttl", "48h", "default lifetime of a login link (5m .. 30d)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.serve.link_ttl = std::chrono::duration_cast<std::chrono::seconds>(
             as_duration(f, n, "serve.link_ttl", std::chrono::minutes(5), std::chrono::hours(24 * 30)));
       }},
      {{"serve.session_ttl", "7d", "how long a tenant stays signed in (5m .. 90d)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.serve.session_ttl = std::chrono::duration_cast<std::chrono::seconds>(
             as_duration(f, n, "serve.session_ttl", std::chrono::minutes(5), std::chrono::hours(24 * 90)));
       }},
      {{"serve.max_connections", "256", "connections served at once (1 .. 10000)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.serve.max_connections = static_cast<int>(as_int(f, n, "serve.max_connections", 1, 10'000));
       }},
      {{"serve.max_body", "65536", "largest request body in bytes (1024 .. 1048576)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.serve.max_body = as_int(f, n, "serve.max_body", 1024, 1 << 20);
       }},
      {{"serve.idle_timeout", "30s", "an idle connection is closed after this (1s .. 10m)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.serve.idle_timeout = as_duration(f, n, "serve.idle_timeout", std::chrono::seconds(1), std::chrono::minutes(10));
       }},
      {{"serve.threads", "2", "threads serving requests (1 .. 64)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.serve.threads = static_cast<int>(as_int(f, n, "serve.threads", 1, 64));
       }},
      {{"serve.forwarded_for", "false", "trust X-Forwarded-For from a loopback peer (the reverse proxy)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         auto v = n.value_exact<bool>();
         if (!v) bad_value(f, n, "serve.forwarded_for", "expected true or false");
         c.serve.forwarded_for = *v;
       }},
      {{"serve.link_rate", "10", "login link requests a minute per client address (1 .. 10000)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.serve.link_rate = static_cast<int>(as_int(f, n, "serve.link_rate", 1, 10'000));
       }},
      {{"serve.webhook_rate", "120", "webhook requests a minute per client address (1 .. 100000)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.serve.webhook_rate = static_cast<int>(as_int(f, n, "serve.webhook_rate", 1, 100'000));
       }},
      {{"hooks.low_balance", "(none)", "program run when a balance fell to alarm1 or alarm2: a path, or [path, args...]"},
       [](Config& c, const toml::node& n, const std::string& f) { c.hooks.programs["low_balance"] = as_program(f, n, "hooks.low_balance"); }},
      {{"hooks.emergency_credit", "(none)", "program run when an account took emergency credit: a path, or [path, args...]"},
       [](Config& c, const toml::node& n, const std::string& f) { c.hooks.programs["emergency_credit"] = as_program(f, n, "hooks.emergency_credit"); }},
      {{"hooks.arrears", "(none)", "program run when an account fell into arrears: a path, or [path, args...]"},
       [](Config& c, const toml::node& n, const std::string& f) { c.hooks.programs["arrears"] = as_program(f, n, "hooks.arrears"); }},
      {{"hooks.relay_off", "(none)", "program run when a relay was opened (command done): a path, or [path, args...]"},
       [](Config& c, const toml::node& n, const std::string& f) { c.hooks.programs["relay_off"] = as_program(f, n, "hooks.relay_off"); }},
      {{"hooks.relay_on", "(none)", "program run when a relay was closed (command done): a path, or [path, args...]"},
       [](Config& c, const toml::node& n, const std::string& f) { c.hooks.programs["relay_on"] = as_program(f, n, "hooks.relay_on"); }},
      {{"hooks.payment", "(none)", "program run when a sale was credited: a path, or [path, args...]"},
       [](Config& c, const toml::node& n, const std::string& f) { c.hooks.programs["payment"] = as_program(f, n, "hooks.payment"); }},
      {{"hooks.cutoff_warning", "(none)", "program run when warn_before ahead of a disconnection held back by friendly hours or days: a path, or [path, args...]"},
       [](Config& c, const toml::node& n, const std::string& f) { c.hooks.programs["cutoff_warning"] = as_program(f, n, "hooks.cutoff_warning"); }},
      {{"hooks.meter_offline", "(none)", "program run when a meter stopped answering: a path, or [path, args...]"},
       [](Config& c, const toml::node& n, const std::string& f) { c.hooks.programs["meter_offline"] = as_program(f, n, "hooks.meter_offline"); }},
      {{"hooks.reading_held", "(none)", "program run when a reading was held as implausible: a path, or [path, args...]"},
       [](Config& c, const toml::node& n, const std::string& f) { c.hooks.programs["reading_held"] = as_program(f, n, "hooks.reading_held"); }},
      {{"hooks.timeout", "10s", "a hook still running after this is killed and tried again (1s .. 10m)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.hooks.timeout = as_duration(f, n, "hooks.timeout", std::chrono::seconds(1), std::chrono::minutes(10));
       }},
      {{"hooks.max_running", "4", "hooks running at once (1 .. 64)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.hooks.max_running = static_cast<int>(as_int(f, n, "hooks.max_running", 1, 64));
       }},
      {{"hooks.retry", "[\"1m\", \"5m\", \"30m\", \"2h\"]", "delays before each retry of a failed hook; then it is failed"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.hooks.retry.clear();
         const auto* arr = n.as_array();
         if (!arr || arr->size() > 20) bad_value(f, n, "hooks.retry", "expected an array of at most 20 durations");
         for (const auto& e : *arr)
           c.hooks.retry.push_back(std::chrono::duration_cast<std::chrono::seconds>(
               as_duration(f, e, "hooks.retry", std::chrono::seconds(1), std::chrono::hours(24 * 7))));
       }},
      {{"hooks.warn_before", "2h", "cutoff_warning is sent this long before a held-back disconnection (1m .. 7d)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.hooks.warn_before = std::chrono::duration_cast<std::chrono::seconds>(
             as_duration(f, n, "hooks.warn_before", std::chrono::minutes(1), std::chrono::hours(24 * 7)));
       }},
      {{"hub.url", "(none: off)", "the office hub's PostgreSQL: a libpq connection string or postgresql:// URI"},
       [](Config& c, const toml::node& n, const std::string& f) { c.hub.url = as_string(f, n, "hub.url"); }},
      {{"hub.site_id", "(none)", "this site's name at the hub: letters, digits, '.', '-' and '_' (at most 64)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.hub.site_id = as_string(f, n, "hub.site_id");
         if (c.hub.site_id.empty() || c.hub.site_id.size() > 64 ||
             c.hub.site_id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
                 std::string::npos)
           bad_value(f, n, "hub.site_id", "letters, digits, '.', '-' and '_', at most 64");
       }},
      {{"hub.batch", "1000", "outbox rows pushed in one hub transaction (1 .. 100000)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.hub.batch = static_cast<int>(as_int(f, n, "hub.batch", 1, 100'000));
       }},
      {{"hub.interval", "2s", "how often kwhd looks for outbox rows to push (100ms .. 10m)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.hub.interval = as_duration(f, n, "hub.interval", std::chrono::milliseconds(100), std::chrono::minutes(10));
       }},
      {{"hub.retry", "5s", "first wait after a failed push, doubled after each failure (100ms .. 1h)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.hub.retry = as_duration(f, n, "hub.retry", std::chrono::milliseconds(100), std::chrono::hours(1));
       }},
      {{"hub.retry_max", "5m", "longest wait between failed pushes (1s .. 1h)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.hub.retry_max = as_duration(f, n, "hub.retry_max", std::chrono::seconds(1), std::chrono::hours(1));
       }},
      {{"hub.usage_every", "15m", "a day of usage or a balance is pushed at most this often while it changes (0s .. 1d)"},
       [](Config& c, const toml::node& n, const std::string& f) {
         c.hub.usage_every = as_duration(f, n, "hub.usage_every", std::chrono::seconds(0), std::chrono::hours(24));
       }},
  };
  return k_keys;
}

// [serve.providers.NAME] tables: a name of letters, digits, '-' and '_', and the keys below.
void read_providers(Config& c, const toml::node& node, const std::string& file) {
  const auto* t = node.as_table();
  if (!t) bad_value(file, node, "serve.providers", "expected tables [serve.providers.NAME]");
  for (const auto& [name_key, sub] : *t) {
    const std::string name(name_key.str());
    const std::string where = "serve.providers." + name;
    const auto* p = sub.as_table();
    if (!p) bad_value(file, sub, where, "expected a table");
    if (name.empty() || name.size() > 32 ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != std::string::npos)
      bad_value(file, sub, where, "a provider's name is letters, digits, '-' and '_' (at most 32)");
    Provider pr;
    pr.name = name;
    for (const auto& [k, v] : *p) {
      const std::string key(k.str());
      const std::string full = where + "." + key;
      if (key == "type") {
        pr.type = as_string(file, v, full);
        if (pr.type != "hmac") bad_value(file, v, full, "the only provider type is \"hmac\"");
      } else if (key == "secret_file") {
        pr.secret_file = as_string(file, v, full);
      } else if (key == "checkout_url") {
        pr.checkout_url = as_string(file, v, full);
        if (pr.checkout_url.rfind("https://", 0) != 0 && pr.checkout_url.rfind("http://", 0) != 0)
          bad_value(file, v, full, "expected an http:// or https:// URL");
      } else if (key == "label") {
        pr.label = as_string(file, v, full);
      } else {
        fail(Exit::config, "{}:{}: unknown key '{}'", file, v.source().begin.line, full);
      }
    }
    if (pr.secret_file.empty()) bad_value(file, sub, where, "secret_file is required");
    if (pr.checkout_url.empty()) bad_value(file, sub, where, "checkout_url is required");
    c.serve.providers.push_back(std::move(pr));
  }
}

const std::set<std::string>& table_names() {
  static const std::set<std::string> k_tables = {"poll", "billing", "metrics", "retention", "serve", "hooks", "hub"};
  return k_tables;
}

void reject_unknown(const toml::table& root, const std::string& file) {
  std::set<std::string> known;
  for (const auto& k : keys()) known.insert(k.info.key);
  for (const auto& [name, node] : root) {
    std::string key(name.str());
    if (table_names().count(key)) {
      const auto* t = node.as_table();
      if (!t) bad_value(file, node, key, "expected a table");
      for (const auto& [sub, subnode] : *t) {
        std::string full = key + "." + std::string(sub.str());
        if (full == "serve.providers") continue; // read_providers checks its tables
        if (!known.count(full) && key == "hooks")
          fail(Exit::config, "{}:{}: unknown key '{}': a hook's kind is one of {}", file, subnode.source().begin.line, full,
               fmt::join(hook_kinds(), ", "));
        if (!known.count(full)) fail(Exit::config, "{}:{}: unknown key '{}'", file, subnode.source().begin.line, full);
      }
    } else if (!known.count(key)) {
      fail(Exit::config, "{}:{}: unknown key '{}'", file, node.source().begin.line, key);
    }
  }
}

} // namespace

const std::vector<std::string>& hook_kinds() {
  static const std::vector<std::string> k_kinds = {"low_balance", "emergency_credit", "arrears",
                                                   "relay_off",   "relay_on",         "payment",
                                                   "cutoff_warning", "meter_offline", "reading_held"};
  return k_kinds;
}

bool DailyWindow::contains(int m) const {
  return from_minute < to_minute ? (m >= from_minute && m < to_minute) : (m >= from_minute || m < to_minute);
}

std::optional<std::string> resolve_config_path(const std::optional<std::string>& cli_option) {
  if (cli_option) return cli_option;
  if (const char* env = std::getenv("KWH_CONFIG"); env && *env) return std::string(env);
  std::error_code ec;
  if (std::filesystem::exists("/etc/kwh/kwh.toml", ec)) return std::string("/etc/kwh/kwh.toml");
  return std::nullopt;
}

Config parse(std::string_view text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    fail(Exit::config, "{}:{}: {}", source, e.source().begin.line, e.description());
  }
  reject_unknown(root, source);
  Config c;
  c.source = source;
  for (const auto& k : keys()) {
    if (const toml::node* n = root.at_path(k.info.key).node()) k.set(c, *n, source);
  }
  if (const toml::node* n = root.at_path("serve.providers").node()) read_providers(c, *n, source);
  if (c.hub.retry_max < c.hub.retry) c.hub.retry_max = c.hub.retry;
  return c;
}

void check_for_daemon(const Config& c) {
  if (c.hub.enabled() && c.hub.site_id.empty())
    fail(Exit::config, "{}: [hub] url is set but site_id is not; name this site with [hub] site_id",
         c.source.empty() ? std::string("the configuration") : c.source);
}

Config load_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail(Exit::config, "{}: no such configuration file", path);
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) fail(Exit::config, "{}: cannot be read", path);
  return parse(text, path);
}

Config load(const std::optional<std::string>& cli_option) {
  auto path = resolve_config_path(cli_option);
  return path ? load_file(*path) : Config{};
}

std::string resolve_database_path(const std::optional<std::string>& cli_option, const Config& config) {
  if (cli_option) return *cli_option;
  if (const char* env = std::getenv("KWH_DB"); env && *env) return env;
  return config.database;
}

std::string resolve_secret_path(const Config& config, const std::string& database_path) {
  if (!config.serve.secret_file.empty()) return config.serve.secret_file;
  return (std::filesystem::path(database_path).parent_path() / "serve.secret").string();
}

const std::vector<KeyInfo>& known_keys() {
  static const std::vector<KeyInfo> k_infos = [] {
    std::vector<KeyInfo> v;
    for (const auto& k : keys()) v.push_back(k.info);
    return v;
  }();
  return k_infos;
}

} // namespace kwh::config
