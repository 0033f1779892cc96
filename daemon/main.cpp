// kwhd: the polling daemon. Wiring only; the poller, scheduler and billing live in libkwh.

#include <kwh/auth/file_mode.hpp>
#include <kwh/config/config.hpp>
#include <kwh/daemon/daemon.hpp>
#include <kwh/util/error.hpp>
#include <kwh/util/time.hpp>

#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>

namespace {

int run(int argc, char** argv) {
  using namespace kwh;
  std::optional<std::string> db_option, config_option;
  bool once = false, check_config = false;

  CLI::App app{"kwhd: polls the meters, stores and bills readings, carries out commands", "kwhd"};
  app.set_version_flag("--version", std::string("kwhd ") + KWH_VERSION);
  app.add_option("--db", db_option, "SQLite database (default: $KWH_DB, config, /var/lib/kwh/kwh.db)")
      ->type_name("PATH");
  app.add_option("--config", config_option, "configuration file (default: $KWH_CONFIG, /etc/kwh/kwh.toml)")
      ->type_name("PATH");
  app.add_flag("--once", once, "poll every active meter once, store, bill, carry out pending commands, exit");
  app.add_flag("--check-config", check_config, "check the configuration and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "kwhd: " << e.what() << " (see kwhd --help)\n";
    return static_cast<int>(Exit::usage);
  }

  // A configuration anyone may write could point kwhd at any database or meter.
  if (auto config_path = config::resolve_config_path(config_option))
    auth::refuse_world_writable(*config_path, Exit::config);
  auto cfg = config::load(config_option);
  config::check_for_daemon(cfg);
  set_site_timezone(cfg.timezone);
  if (check_config) {
    std::cout << "configuration " << (cfg.source.empty() ? "(defaults)" : cfg.source) << " is valid\n";
    return 0;
  }
  daemon::Options options;
  options.config_path = config_option;
  options.database = config::resolve_database_path(db_option, cfg);
  options.once = once;
  daemon::Daemon d(std::move(options), std::move(cfg));
  return d.run();
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const kwh::Error& e) {
    std::cerr << "kwhd: " << e.what() << '\n';
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::cerr << "kwhd: " << kwh::one_line(e.what()) << '\n';
    return 1;
  }
}
