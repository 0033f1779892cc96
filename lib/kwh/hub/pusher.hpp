#pragma once
// kwhd's pusher: a thread of its own that sends the site's outbox to the hub ([hub] url), in
// order and at least once, in batches of [hub] batch rows over one libpq connection.
//
// It reads the outbox on a read-only connection of its own and writes only its own state in
// `settings` (hub.claimed before a batch is read, hub.pushed after the hub has committed it),
// through `Write`, which kwhd runs on its writer thread: nothing is held on the site's database
// while the hub is asked, so a slow or dead WAN never holds up polling, billing or selling.
//
// On each connection it first compares the hub's record of the site with the database: another
// epoch, rows at the hub beyond the outbox's last seq, or the hub's last row with another hash
// mean the database was restored from an older copy (or is another site's): it writes an alarm
// on the hub and in settings (hub.alarm) and stops pushing until an operator acts (kwh-hub(1)).
// A row the hub holds with another hash is the same alarm. Failures to reach the hub are
// retried after [hub] retry, doubling to [hub] retry_max.
//
// With set_sell(), each cycle also takes the site's pending top-ups sold at the office
// (`kwh hub sell`, hub/intent.hpp), applies each through `Sell` (kwhd: a sale on its writer
// thread, ledger ref hub:REF, so that a retried intent replays) and writes the receipt, or the
// refusal, back to the hub. Not while an alarm stops the pushes.

#include <kwh/config/config.hpp>
#include <kwh/hub/intent.hpp>
#include <kwh/hub/outbox.hpp>
#include <kwh/hub/pg.hpp>
#include <kwh/storage/database.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace kwh::hub {

// For kwhd's /metrics.
struct PushCounters {
  std::atomic<std::uint64_t> rows_waiting{0};
  std::atomic<std::uint64_t> rows_pushed{0};  // new rows the hub took
  std::atomic<std::uint64_t> push_errors{0};  // failed attempts (hub unreachable, refused)
  std::atomic<std::uint64_t> alarm{0};        // 1 while pushes are stopped by an alarm
};

class Pusher {
public:
  // Runs a job on a connection that may write the site's database (the job opens its own
  // transaction) and returns when it is done, rethrowing what it threw.
  using Write = std::function<void(const std::function<void(storage::Database&)>&)>;
  using Log = std::function<void(const std::string&)>;

  Pusher(std::string database_path, config::Hub cfg, Write write, PushCounters& counters, Log log);
  ~Pusher();
  Pusher(const Pusher&) = delete;
  Pusher& operator=(const Pusher&) = delete;

  // What an office top-up became at the site.
  struct Sale {
    std::int64_t receipt = 0;
    std::int64_t balance = 0; // minor units, after the sale
  };
  // Applies an intent as a sale and returns its receipt; throws kwh::Error. Exit::data and
  // Exit::no_input (closed or unknown account, a ref used for another sale) are refusals,
  // written to the intent; anything else leaves it pending for the next cycle.
  using Sell = std::function<Sale(const Intent&)>;
  // Before start(): take the site's pending intents in each cycle.
  void set_sell(Sell sell) { m_sell = std::move(sell); }

  void start();
  // Asks the thread to stop and joins it (a call to the hub in flight is finished first).
  void stop();

  // One pass on the caller's thread: connects when needed and pushes until the outbox is
  // empty. Returns the rows sent; throws what failed (tests).
  std::int64_t push_all();
  // Applies the site's pending intents (after a push has verified the hub); returns how many
  // were answered. Throws what failed to reach the hub.
  std::int64_t apply_intents();

private:
  // Pushes at most one batch; returns the rows sent (0: nothing to send, or stopped).
  std::int64_t push_batch_once();
  void verify(const OutboxState& state);
  // Stops the pushes: an alarm at the site (hub.alarm, the log) and, with at_hub, on the hub.
  void alarm(const std::string& kind, std::optional<std::int64_t> seq, const std::string& detail, bool at_hub = true);
  void run();
  void note(const std::string& line);

  std::string m_path;
  config::Hub m_cfg;
  Write m_write;
  PushCounters& m_counters;
  Log m_log;
  Sell m_sell;
  std::unique_ptr<storage::Database> m_read;
  std::unique_ptr<PgConnection> m_conn;
  bool m_verified = false;
  std::string m_epoch; // the epoch verified
  std::int64_t m_cursor = 0;
  std::string m_last_line;
  std::thread m_thread;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stopping = false;
  // Set by stop(): a hub call in progress gives up (PgConnection::set_interrupt).
  std::atomic<bool> m_interrupt{false};
};

} // namespace kwh::hub
