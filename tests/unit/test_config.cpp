#include <doctest/doctest.h>

#include "temp_dir.hpp"

#include <kwh/config/config.hpp>

#include <fstream>

using namespace kwh;

namespace {
std::string write(const test::TempDir& d, const std::string& text) {
  auto p = d.file("kwh.toml");
  std::ofstream(p) << text;
  return p;
}
std::string error_of(const std::string& path) {
  try {
    config::load_file(path);
  } catch (const Error& e) {
    CHECK(e.code() == Exit::config);
    return e.what();
  }
  return "";
}
std::string config_error(const std::string& text) {
  try {
    config::parse(text, "k.toml");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::config);
    return e.what();
  }
  FAIL("expected an error for: " << text);
  return "";
}
} // namespace

TEST_CASE("Config: every key has a default") {
  config::Config c;
  CHECK(c.database == "/var/lib/kwh/kwh.db");
  CHECK(c.minor_units == 2);
  CHECK(c.poll.interval == std::chrono::minutes(30));
  CHECK(c.poll.timeout == std::chrono::milliseconds(500));
  CHECK(c.poll.retries == 1);
  CHECK(c.poll.offline_after == 3);
  CHECK(!c.poll.sync_time);
  CHECK(c.poll.max_drift == std::chrono::seconds(60));
  CHECK(c.poll.max_backlog == 50000);
  CHECK(c.billing.max_power_w == 100000);
  CHECK(c.billing.overload_action == config::OverloadAction::event);
  CHECK(c.metrics.listen.empty());
  CHECK(c.retention.raw == std::chrono::hours(24 * 90));
  CHECK(c.retention.thin_to == std::chrono::hours(1));
  CHECK(c.retention.events == std::chrono::hours(24 * 730));
  CHECK(c.retention.prune_at_minute == 180);
  CHECK(c.serve.listen == "127.0.0.1:8080");
  CHECK(c.serve.link_ttl == std::chrono::hours(48));
  CHECK(c.serve.session_ttl == std::chrono::hours(24 * 7));
  CHECK(c.serve.providers.empty());
  CHECK(config::known_keys().size() == 59);
}

TEST_CASE("Config: [serve] and its payment providers") {
  auto c = config::parse("[serve]\nbase_url = \"https://pay.example.com/\"\nlink_ttl = \"2h\"\n"
                         "[serve.providers.paybox]\nsecret_file = \"/etc/kwh/paybox.secret\"\n"
                         "checkout_url = \"https://checkout.example.com/?a={account}\"\nlabel = \"Card\"\n",
                         "k.toml");
  CHECK(c.serve.base_url == "https://pay.example.com");
  CHECK(c.serve.link_ttl == std::chrono::hours(2));
  REQUIRE(c.serve.providers.size() == 1);
  CHECK(c.serve.providers[0].name == "paybox");
  CHECK(c.serve.providers[0].type == "hmac");
  CHECK(c.serve.providers[0].label == "Card");
  auto refused = [](const std::string& text) {
    try {
      config::parse(text, "k.toml");
      return 0;
    } catch (const Error& e) {
      return static_cast<int>(e.code());
    }
  };
  CHECK(refused("[serve.providers.p]\nsecret_file = \"/x\"\n") == 78);                      // no checkout_url
  CHECK(refused("[serve.providers.p]\ncheckout_url = \"https://x\"\n") == 78);               // no secret_file
  CHECK(refused("[serve.providers.p]\nsecret_file = \"/x\"\ncheckout_url = \"https://x\"\ncolour = 1\n") == 78);
  CHECK(refused("[serve.providers.p]\ntype = \"paypal\"\nsecret_file = \"/x\"\ncheckout_url = \"https://x\"\n") == 78);
  CHECK(refused("[serve.providers.\"a b\"]\nsecret_file = \"/x\"\ncheckout_url = \"https://x\"\n") == 78);
  CHECK(refused("[serve]\nbase_url = \"ftp://x\"\n") == 78);
  CHECK(refused("[serve]\nlink_ttl = \"1m\"\n") == 78);
  CHECK(refused("[serve]\nwhat = 1\n") == 78);
}

TEST_CASE("Config: [retention] periods are days, weeks or years, or forever, within their ranges") {
  auto c = config::parse("[retention]\nraw = \"forever\"\nthin_to = \"15m\"\nevents = \"3y\"\nprune_at = \"23:30\"\n", "k.toml");
  CHECK_FALSE(c.retention.raw);
  CHECK(c.retention.thin_to == std::chrono::minutes(15));
  CHECK(c.retention.events == std::chrono::hours(24 * 365 * 3));
  CHECK(c.retention.prune_at_minute == 23 * 60 + 30);
  CHECK(config::parse("[retention]\nraw = \"2w\"\nevents = \"forever\"\n", "k.toml").retention.raw ==
        std::chrono::hours(24 * 14));
  CHECK_FALSE(config::parse("[retention]\nevents = \"forever\"\n", "k.toml").retention.events);
  for (const char* bad : {"raw = \"1d\"", "raw = \"90\"", "raw = \"d\"", "raw = \"101y\"", "raw = 90",
                          "thin_to = \"30s\"", "thin_to = \"2d\"", "events = \"12h\"", "prune_at = \"24:00\"",
                          "prune_at = \"3:00\"", "keep = \"1y\""}) {
    CAPTURE(bad);
    auto e = config_error(std::string("[retention]\n") + bad + "\n");
    CHECK(e.find("k.toml:2") != std::string::npos);
  }
}

TEST_CASE("Config: a full file is read") {
  test::TempDir d;
  auto c = config::load_file(write(d, R"(
database = "/tmp/x.db"
timezone = "Asia/Shanghai"
currency = "EUR"
minor_units = 3
profiles = ["/a", "/b"]
[poll]
interval = "1s"
timeout = "200ms"
retries = 2
offline_after = 5
sync_time = "03:30"
max_drift = "2m"
[billing]
reconnect_above = "10.125"
friendly_hours = ["18:00-08:00"]
friendly_days = ["sat", "sun"]
overload_action = "trip"
max_power_w = 50000
[metrics]
listen = "127.0.0.1:9464"
)"));
  CHECK(c.database == "/tmp/x.db");
  CHECK(c.database_set);
  CHECK(c.timezone == "Asia/Shanghai");
  CHECK(c.minor_units == 3);
  CHECK(c.profiles.size() == 2);
  CHECK(c.poll.interval == std::chrono::seconds(1));
  CHECK(c.poll.sync_time == 3 * 60 + 30);
  CHECK(c.poll.max_drift == std::chrono::seconds(120));
  CHECK(c.billing.reconnect_above.minor() == 10125);
  REQUIRE(c.billing.friendly_hours.size() == 1);
  CHECK(c.billing.friendly_hours[0].contains(19 * 60));
  CHECK(c.billing.friendly_hours[0].contains(7 * 60 + 59));
  CHECK_FALSE(c.billing.friendly_hours[0].contains(8 * 60));
  CHECK(c.billing.friendly_days == std::vector<int>{6, 0});
  CHECK(c.billing.overload_action == config::OverloadAction::trip);
  CHECK(c.metrics.listen == "127.0.0.1:9464");
}

TEST_CASE("Config: an unknown key names file, line and key") {
  test::TempDir d;
  auto p = write(d, "currency = \"CNY\"\n\n[poll]\nintervall = \"1s\"\n");
  auto e = error_of(p);
  CHECK(e.find(p + ":4") != std::string::npos);
  CHECK(e.find("poll.intervall") != std::string::npos);
  CHECK(error_of(write(d, "colour = 1\n")).find("colour") != std::string::npos);
  CHECK(error_of(write(d, "[alarms]\nx = 1\n")).find("alarms") != std::string::npos);
}

TEST_CASE("Config: bad values name the key") {
  test::TempDir d;
  CHECK(error_of(write(d, "minor_units = 9\n")).find(":1: minor_units") != std::string::npos);
  CHECK(error_of(write(d, "minor_units = \"2\"\n")).find("minor_units") != std::string::npos);
  CHECK(error_of(write(d, "[poll]\ninterval = \"0s\"\n")).find(":2: poll.interval") != std::string::npos);
  CHECK(error_of(write(d, "[poll]\ninterval = \"25h\"\n")).find("poll.interval") != std::string::npos);
  CHECK(error_of(write(d, "timezone = \"Nowhere/City\"\n")).find("timezone") != std::string::npos);
  CHECK(error_of(write(d, "[billing]\nreconnect_above = \"1.001\"\n")).find("reconnect_above") != std::string::npos);
  CHECK(error_of(write(d, "[billing]\nfriendly_hours = [\"18-8\"]\n")).find("friendly_hours") != std::string::npos);
  CHECK(error_of(write(d, "[billing]\nfriendly_days = [\"someday\"]\n")).find("friendly_days") != std::string::npos);
  // 24:00 ends a window, never starts one (the config fuzzer's second finding).
  CHECK(error_of(write(d, "[billing]\nfriendly_hours = [\"24:00-23:59\"]\n")).find("starts at 24:00") != std::string::npos);
  CHECK(error_of(write(d, "[billing]\noverload_action = \"explode\"\n")).find("overload_action") != std::string::npos);
  CHECK(error_of(write(d, "poll = 3\n")).find("poll") != std::string::npos);
  // A float where an integer belongs, however large (the config fuzzer's finding: toml++ casts
  // a float to an integer without a range check when asked for one).
  CHECK(error_of(write(d, "[billing]\nmax_power_w = 6.5e40\n")).find(":2: billing.max_power_w: expected an integer") !=
        std::string::npos);
  CHECK(error_of(write(d, "[poll]\nretries = 1.0\n")).find("poll.retries: expected an integer") != std::string::npos);
  CHECK(error_of(write(d, "[poll]\nsync_time = \"3am\"\n")).find("poll.sync_time: '3am' is not a time") != std::string::npos);
  CHECK(error_of(write(d, "[poll]\nsync_time = \"24:00\"\n")).find("poll.sync_time") != std::string::npos);
  CHECK(error_of(write(d, "[poll]\nmax_drift = \"0s\"\n")).find("poll.max_drift") != std::string::npos);
}

TEST_CASE("Config: a TOML syntax error names file and line") {
  test::TempDir d;
  auto p = write(d, "currency = \"CNY\"\nminor_units = = 2\n");
  CHECK(error_of(p).find(p + ":2") != std::string::npos);
}

TEST_CASE("Config: database path resolution order") {
  config::Config c;
  ::unsetenv("KWH_DB");
  CHECK(config::resolve_database_path(std::nullopt, c) == "/var/lib/kwh/kwh.db");
  c.database = "/from/config.db";
  CHECK(config::resolve_database_path(std::nullopt, c) == "/from/config.db");
  ::setenv("KWH_DB", "/from/env.db", 1);
  CHECK(config::resolve_database_path(std::nullopt, c) == "/from/env.db");
  CHECK(config::resolve_database_path(std::string("/from/cli.db"), c) == "/from/cli.db");
  ::unsetenv("KWH_DB");
}

TEST_CASE("Config: an error that quotes what the file has is still one line") {
  // A fuzzer's find: toml++ quotes the character it saw, here the end of the line.
  try {
    config::parse("minor_units = t\n[poll]\n", "kwh.toml");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::config);
    const std::string m = e.what();
    CHECK(m.find('\n') == std::string::npos);
    CHECK(m.find("kwh.toml:1:") == 0);
    CHECK(m.find("\\n") != std::string::npos);
  }
  CHECK(one_line("a\tb\x01\r\n") == "a\\tb\\x01\\r\\n");
}

TEST_CASE("Config: [hooks] maps event kinds to programs") {
  config::Config d;
  CHECK(!d.hooks.any());
  CHECK(d.hooks.timeout == std::chrono::seconds(10));
  CHECK(d.hooks.max_running == 4);
  CHECK(d.hooks.retry.size() == 4);
  CHECK(d.hooks.retry.back() == std::chrono::hours(2));
  CHECK(d.hooks.warn_before == std::chrono::hours(2));
  auto c = config::parse("[hooks]\nlow_balance = \"/usr/lib/kwh/sms.sh\"\n"
                         "payment = [\"/usr/lib/kwh/mail.sh\", \"--to\", \"office@example.com\"]\n"
                         "timeout = \"3s\"\nmax_running = 2\nretry = [\"10s\", \"1m\"]\nwarn_before = \"30m\"\n",
                         "k.toml");
  CHECK(c.hooks.any());
  CHECK(c.hooks.programs.size() == 2);
  CHECK(c.hooks.programs["low_balance"] == std::vector<std::string>{"/usr/lib/kwh/sms.sh"});
  CHECK(c.hooks.programs["payment"] == std::vector<std::string>{"/usr/lib/kwh/mail.sh", "--to", "office@example.com"});
  CHECK(c.hooks.timeout == std::chrono::seconds(3));
  CHECK(c.hooks.max_running == 2);
  CHECK(c.hooks.retry == std::vector<std::chrono::seconds>{std::chrono::seconds(10), std::chrono::seconds(60)});
  CHECK(c.hooks.warn_before == std::chrono::minutes(30));
  // An empty retry list: one attempt, then failed.
  CHECK(config::parse("[hooks]\nretry = []\n", "k.toml").hooks.retry.empty());
  // Every kind is a key.
  for (const auto& k : config::hook_kinds())
    CHECK(config::parse("[hooks]\n" + k + " = \"/bin/true\"\n", "k.toml").hooks.programs.count(k) == 1);

  auto e = config_error("[hooks]\nlow_balance = \"/bin/true\"\nlowbalance = \"/bin/true\"\n");
  CHECK(e.find("k.toml:3") != std::string::npos);
  CHECK(e.find("'hooks.lowbalance'") != std::string::npos);
  CHECK(e.find("low_balance, emergency_credit") != std::string::npos);
  CHECK(config_error("[hooks]\narrears = \"sms.sh\"\n").find("absolute path") != std::string::npos);
  CHECK(config_error("[hooks]\narrears = []\n").find("hooks.arrears") != std::string::npos);
  CHECK(config_error("[hooks]\narrears = 3\n").find("hooks.arrears") != std::string::npos);
  CHECK(config_error("[hooks]\ntimeout = \"0s\"\n").find("hooks.timeout") != std::string::npos);
  CHECK(config_error("[hooks]\nmax_running = 0\n").find("hooks.max_running") != std::string::npos);
  CHECK(config_error("[hooks]\nretry = [\"1m\", \"soon\"]\n").find("hooks.retry") != std::string::npos);
  CHECK(config_error("[hooks]\nwarn_before = \"10s\"\n").find("hooks.warn_before") != std::string::npos);
  CHECK(config_error("hooks = 1\n").find("hooks") != std::string::npos);
}
