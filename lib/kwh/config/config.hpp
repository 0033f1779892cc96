#pragma once
// kwh.toml: the site's configuration. Every key is optional; the known keys and their
// defaults live in one table (config.cpp). Unknown keys and bad values are Exit::config errors
// naming file:line and the key.

#include <kwh/util/money.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kwh::config {

// A daily window in site-local minutes since midnight; from > to crosses midnight.
struct DailyWindow {
  int from_minute = 0;
  int to_minute = 0;
  bool contains(int minute_of_day) const;
};

enum class OverloadAction { event, trip };

struct Poll {
  std::chrono::milliseconds interval{30 * 60 * 1000};
  std::chrono::milliseconds timeout{500};
  int retries = 1;
  int offline_after = 3;
  // Site-local minute of the day (0..1439) at which kwhd sets the clocks of meters whose profile
  // names one ([clock]); nullopt: never (the default).
  std::optional<int> sync_time;
  // A meter's clock further off than this when read is a clock_drift event.
  std::chrono::seconds max_drift{60};
  // Readings kwhd keeps in memory while it cannot write them (another writer holds the
  // database); past it, the older readings of meters that have a newer one are dropped.
  std::int64_t max_backlog = 50'000;
};

struct Billing {
  Money reconnect_above;
  std::vector<DailyWindow> friendly_hours;
  std::vector<int> friendly_days; // 0 = Sunday .. 6 = Saturday
  OverloadAction overload_action = OverloadAction::event;
  std::int64_t max_power_w = 100'000;
  // Emergency credit (billing/credit.hpp): the amount (0: none), the balance at or below which
  // it is offered, and whether kwh grants it without being asked.
  Money emergency_credit;
  Money emergency_offer_below;
  bool emergency_credit_auto = false;
  // Debts (billing/debt.hpp): the share of a sale, in percent, that always buys energy.
  int debt_min_energy_share = 50;
  // Standing charges due while kwh has opened an account's relay for arrears: a debt (true), or
  // charged to the balance like any other (false).
  bool standing_while_disconnected_debt = true;
};

struct Metrics {
  std::string listen; // "host:port"; empty: off
};

// [retention]: how long raw readings and events are kept (readings/maintenance.hpp).
struct Retention {
  std::optional<std::chrono::seconds> raw = std::chrono::hours(24 * 90); // nullopt: forever
  std::chrono::seconds thin_to = std::chrono::hours(1);
  std::optional<std::chrono::seconds> events = std::chrono::hours(24 * 365 * 2); // nullopt: forever
  int prune_at_minute = 3 * 60; // site-local time of kwhd's daily prune, minutes after midnight
};

// [serve.providers.NAME]: a payment provider that notifies kwh serve by signed webhook.
struct Provider {
  std::string name;
  std::string type = "hmac";
  std::string secret_file;
  std::string checkout_url; // {account}, {amount}, {currency} and {return} are replaced
  std::string label = "Pay online";
};

// [serve]: kwh serve, the tenants' pages and the payment webhooks (kwh-serve(1)).
struct Serve {
  std::string listen = "127.0.0.1:8080";
  std::string base_url;    // empty: http://LISTEN
  std::string secret_file; // empty: serve.secret beside the database
  std::chrono::seconds link_ttl = std::chrono::hours(48);
  std::chrono::seconds session_ttl = std::chrono::hours(24 * 7);
  int max_connections = 256;
  std::int64_t max_body = 65536;
  std::chrono::milliseconds idle_timeout{30'000};
  int threads = 2;
  bool forwarded_for = false;
  int link_rate = 10;     // login link requests a minute per address
  int webhook_rate = 120; // webhook requests a minute per address
  std::vector<Provider> providers;
};

// [hooks]: programs kwhd runs on events (lib/kwh/hooks/, kwhd(8)). Each kind with a program
// gets one delivery per event, retried after each delay of `retry` in turn, then failed.
struct Hooks {
  // kind -> argv (argv[0] an absolute path); only configured kinds are collected.
  std::map<std::string, std::vector<std::string>> programs;
  std::chrono::milliseconds timeout{10'000};
  int max_running = 4;
  std::vector<std::chrono::seconds> retry{std::chrono::minutes(1), std::chrono::minutes(5), std::chrono::minutes(30),
                                          std::chrono::hours(2)};
  std::chrono::seconds warn_before = std::chrono::hours(2);
  bool any() const { return !programs.empty(); }
};

// [hub]: the office's PostgreSQL hub that kwhd pushes the site's outbox to (lib/kwh/hub/,
// kwh-hub(1)). Off while url is empty.
struct Hub {
  std::string url;     // a libpq connection string or URI; several hosts fail over as libpq does
  std::string site_id; // this site's name at the hub
  int batch = 1000;    // outbox rows per hub transaction
  std::chrono::milliseconds retry{5000};       // first wait after a failed push; doubles up to retry_max
  std::chrono::milliseconds retry_max{300'000};
  std::chrono::milliseconds interval{2000};    // how often kwhd looks for new outbox rows
  // A day of usage gets a new outbox mark at most this often (the last value always follows).
  std::chrono::milliseconds usage_every{900'000};
  bool enabled() const { return !url.empty(); }
};

// The kinds of [hooks], in the order the man page lists them.
const std::vector<std::string>& hook_kinds();

struct Config {
  std::string database = "/var/lib/kwh/kwh.db";
  bool database_set = false; // whether the file named a database
  std::string timezone;      // IANA name; empty: the system's
  std::string currency = "CNY";
  int minor_units = Money::k_default_minor_units;
  std::vector<std::string> profiles{"/etc/kwh/profiles"};
  Poll poll;
  Billing billing;
  Metrics metrics;
  Retention retention;
  Serve serve;
  Hooks hooks;
  Hub hub;
  std::string source; // the file it came from; empty for built-in defaults
};

// Where the configuration comes from: --config, else $KWH_CONFIG, else /etc/kwh/kwh.toml if it
// exists, else none (all defaults). An explicitly named file that is missing is an error.
std::optional<std::string> resolve_config_path(const std::optional<std::string>& cli_option);

// Loads and checks a file; throws Error(Exit::config) naming file:line and the key.
Config load_file(const std::string& path);
// The same for text already read; `source` names it in errors.
Config parse(std::string_view text, const std::string& source);
// Loads the resolved file, or returns defaults when there is none.
Config load(const std::optional<std::string>& cli_option);
// What kwhd needs beyond a valid file: [hub] url pushes only with a site_id (78 otherwise). The
// office's kwh.toml may name the hub alone, for its kwh hub commands.
void check_for_daemon(const Config& config);

// The database: --db, else $KWH_DB, else `database` in the config, else the default.
std::string resolve_database_path(const std::optional<std::string>& cli_option, const Config& config);

// The link and session key's file: [serve] secret_file, else serve.secret beside the database.
std::string resolve_secret_path(const Config& config, const std::string& database_path);

// The table of known keys, for `kwhd --check-config` output and the man page test.
struct KeyInfo {
  const char* key;
  const char* default_text;
  const char* help;
};
const std::vector<KeyInfo>& known_keys();

} // namespace kwh::config
