#pragma once
// kwhd: the polling daemon of a site. Threads and queues:
//
//  - the event loop (one thread, Boost.Asio): a GatewayPoller per gateway (a serial queue of
//    polls and commands on its bus; gateways in parallel), the cycle timer aligned to
//    [poll] interval in site time, the command-queue check every 300 ms, signals, the systemd
//    notifications and the metrics responder. It never touches SQLite.
//  - the writer thread (Writer): owns the database connection; stores and bills readings
//    (billing::Biller::ingest), statuses and events in short transactions, claims due commands
//    and records their outcome. The event loop hands it records and jobs; it hands results
//    back with asio::post.
//
// A reading is stamped with its cycle's start time (aligned), not the moment it was read, so
// that every meter's readings of one cycle share one time; polls run in the first quarter of
// the cycle (at most 30 s). `--once` stamps the readings with the time the run started.

#include <kwh/config/config.hpp>

#include <memory>
#include <optional>
#include <string>

namespace kwh::daemon {

struct Options {
  std::optional<std::string> config_path; // as given (--config), for SIGHUP
  std::string database;
  bool once = false;
};

class Daemon {
public:
  Daemon(Options options, config::Config cfg);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until SIGTERM/SIGINT (or, with once, until the single pass is done, or one of them
  // stops it early the same way; SIGHUP is ignored with once). Returns the exit code: 0 after
  // a clean stop.
  int run();

private:
  class Impl;
  std::unique_ptr<Impl> m_impl;
};

} // namespace kwh::daemon
