#pragma once
// The write path: one thread that owns kwhd's database connection. The poll path (the Asio
// event loop) never touches SQLite; it hands over what happened, and the writer stores it in
// short BEGIN IMMEDIATE transactions (at most k_batch_readings readings or about k_batch_time
// each), so that a `kwh sell` running at the same time never waits long for the lock.
//
// Each reading is stored and billed by billing::Biller::ingest inside the writer's transaction
// (readings, accumulators, daily_usage, events, relay commands that billing queues), plus the
// meter's latest values (meter_values); each transaction also posts the days that are over to
// the ledger. A reading that billing refuses is logged and skipped alone
// (a savepoint per reading), never the batch.

#include <kwh/config/config.hpp>
#include <kwh/daemon/health.hpp>
#include <kwh/daemon/metrics.hpp>
#include <kwh/modbus/value.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/util/time.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace kwh::daemon {

// A batch is what the writer takes from its queue at once; a transaction ends after
// k_batch_time whatever its size, so that a cashier never waits long for the write lock.
inline constexpr std::size_t k_batch_readings = 20000;
inline constexpr std::chrono::milliseconds k_batch_time{50};
// Readings stop going into a transaction at this, leaving time for what billing writes at the
// commit (balances, accumulators, rollups, latest values), so that the whole is about
// k_batch_time.
inline constexpr std::chrono::milliseconds k_batch_fill{35};
// How long the writer waits for more records after the first of a burst before it writes.
inline constexpr std::chrono::milliseconds k_batch_linger{100};

// One successful poll: every decoded value of the meter's profile at time t.
struct PolledReading {
  std::int64_t meter_id = 0;
  UnixTime time = 0;
  std::vector<modbus::Value> values;
  // The relay state the meter reports ([relay.status]): true closed (on), false open (off).
  std::optional<bool> relay_closed;
  // It differs from the meter's previous report, or is the first since kwhd started: the writer
  // compares it with what kwh knows (site::reported_relay).
  bool relay_news = false;
};

// What one poll of a meter changed: the reading (when it answered), its count of failed polls
// in a row, and its new status when that changed (with the detail for the event).
struct PollRecord {
  std::int64_t meter_id = 0;
  std::int64_t gateway_id = 0;
  std::optional<PolledReading> reading;
  int failed_polls = 0;
  bool failed_polls_changed = false;
  std::optional<Status> status;
  UnixTime time = 0;
  std::string detail;
  // A circuit of a multi-user device whose status change the device's own event reports
  // (device_offline, device_online): no meter_offline is written for it, and a meter_online only
  // when it ends a meter_offline of the circuit's own.
  bool quiet = false;
};

struct GatewayRecord {
  std::int64_t gateway_id = 0;
  Status status = Status::unknown;
  UnixTime time = 0;
  std::string detail;
};

// Stores one reading: billed through Biller::ingest, latest values into meter_values.
// Runs inside the caller's transaction. The one place a polled reading enters the database.
// A multi-user device's status, from its circuits': one device_offline event when all of them
// are offline, ended (with a device_online) when one answers. Events name the device in their
// detail ("device D1: 36 circuits offline"), with the gateway and no meter.
struct DeviceRecord {
  std::int64_t gateway_id = 0;
  std::string device;
  Status status = Status::unknown;
  UnixTime time = 0;
  std::string detail; // begins "device NAME: "
};

// An event on its own (a circuit's meter_offline, held back until its device was seen to answer).
struct EventRecord {
  UnixTime time = 0;
  std::string kind;
  std::optional<std::int64_t> gateway_id, meter_id;
  std::string detail;
};

class ReadingStore {
public:
  ReadingStore(storage::Database& db, const config::Config& cfg);
  ~ReadingStore();
  // Returns the billing summary line when something worth a log line happened, else empty.
  // The meter's latest values (meter_values) are written by write_values(), once per meter:
  // `r` must live until then.
  std::string store(const PolledReading& r);
  // Writes the latest values of each meter stored since the last call (caller's transaction,
  // before it commits).
  void write_values();
  // Forgets them (the transaction was rolled back).
  void drop_values();
  // Runs `write`, which changes nothing billing reads (meter status, events), without making
  // billing read again what it knows of the meters (billing::Biller::outside_billing).
  void outside_billing(const std::function<void()>& write);
  // Posts the accumulators of the days that are over (billing::Biller::post_days_over).
  int post_days_over();

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

class Writer {
public:
  using Job = std::function<void(storage::Database&)>;

  Writer(std::unique_ptr<storage::Database> db, config::Config cfg, Metrics& metrics);
  // Writes everything still queued, then stops the thread.
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void start();
  // Thread-safe. Records are written in order, batched into short transactions.
  void add(PollRecord record);
  void add(GatewayRecord record);
  void add(DeviceRecord record);
  void add(EventRecord record);
  // Runs a job on the writer thread, in order with the records (the job opens its own
  // transactions). A job that throws is logged, never fatal.
  void post(Job job);
  // The same for a job that changes nothing billing reads (the readings' upkeep): billing keeps
  // what it knows of the meters.
  void post_outside_billing(Job job);
  // Blocks until everything queued before the call is written.
  void flush();
  // Writes what is queued and joins the thread. Idempotent.
  void stop();
  // Replaces the configuration the billing uses (SIGHUP), in order with the records.
  void set_config(config::Config cfg);
  // That configuration, for a job: only on the writer thread, where set_config() replaces it.
  const config::Config& config() const { return m_cfg; }

  // Records waiting to be written (for STATUS and tests).
  std::size_t backlog() const;
  // Readings among them.
  std::size_t backlog_readings() const;
  // The CPU time the writer thread has used (benchmarks); 0 when it is not running.
  double cpu_seconds() const;

private:
  using Item = std::variant<PollRecord, GatewayRecord, DeviceRecord, EventRecord, Job>;
  void enqueue(Item item, bool urgent);
  // Past [poll] max_backlog queued readings: drops the older readings of meters that have a
  // newer one queued (m_mutex held). Registers are cumulative, so the reading after a dropped
  // one carries its consumption: nothing is lost from billing, only the detail in between.
  void shed();
  // Counts a reading taken off the queue, and says when the dropping has stopped (m_mutex held).
  void taken(const Item& item);
  void run();
  void write_records(std::vector<Item>& items, std::size_t& i);
  // Returns whether a reading was stored. careful: a savepoint per reading.
  void write_status(storage::Database& db, const PollRecord& r);
  void collect_hooks();
  bool write_one(storage::Database& db, const PollRecord& r, bool careful);
  void write_one(storage::Database& db, const GatewayRecord& r);
  void write_one(storage::Database& db, const DeviceRecord& r);

  std::unique_ptr<storage::Database> m_db;
  config::Config m_cfg;
  Metrics& m_metrics;
  std::unique_ptr<ReadingStore> m_store;
  std::vector<std::string> m_lines; // log lines of the transaction being written
  mutable std::mutex m_mutex;
  std::condition_variable m_wake, m_idle;
  // Queued items with their number in the order they came (m_queued: the next number). m_done:
  // everything numbered below it is written, or was dropped (see shed()).
  struct Entry {
    Item item;
    std::uint64_t seq;
  };
  std::deque<Entry> m_queue;
  std::uint64_t m_queued = 0, m_done = 0;
  // Readings queued; the count at which shed() may run again; the limit; what has been dropped
  // since the backlog went over it.
  std::size_t m_queued_readings = 0, m_next_shed = 0;
  std::atomic<std::size_t> m_max_backlog;
  bool m_dropping = false;
  std::uint64_t m_dropped = 0;
  std::atomic<bool> m_stopping{false}; // also read outside the lock, by the writer thread
  int m_flushing = 0;
  std::thread m_thread;
  // WAL checkpoints, on a connection and thread of their own so that the writer's commits never
  // wait for them (see checkpoints()); the writer asks for one after each commit.
  void checkpoints(std::unique_ptr<storage::Database> db);
  std::thread m_checkpointer;
  std::mutex m_ckpt_mutex;
  std::condition_variable m_ckpt_wake;
  bool m_ckpt_due = false, m_ckpt_stop = false;
};

// Writes a status change's event, as the writer does: exposed for the command path and tests.
void write_event(storage::Database& db, UnixTime time, const std::string& kind, std::optional<std::int64_t> gateway_id,
                 std::optional<std::int64_t> meter_id, const std::string& detail);

} // namespace kwh::daemon
