#include <kwh/daemon/writer.hpp>

#include <kwh/billing/biller.hpp>
#include <kwh/daemon/commands.hpp>
#include <kwh/daemon/log.hpp>
#include <kwh/hooks/collector.hpp>
#include <kwh/modbus/profile.hpp>

#include <cmath>
#include <ctime>
#include <malloc.h>
#include <pthread.h>
#include <iterator>
#include <unordered_map>

namespace kwh::daemon {

namespace {

// {"energy_total": 123456, "voltage_a": 229.9}: integers for energy, volume and money, reals
// otherwise (the form site::values_json gives), written directly: it runs for every reading.
std::string values_json(const std::vector<modbus::Value>& values) {
  std::string out = "{";
  for (const auto& v : values) {
    if (out.size() > 1) out += ", ";
    out += '"';
    out += v.name; // profile value names are [a-z0-9_]: nothing to escape
    out += "\": ";
    if (modbus::is_integer_quantity(v.name) && v.integer)
      fmt::format_to(std::back_inserter(out), "{}", *v.integer);
    else if (std::isfinite(v.real))
      fmt::format_to(std::back_inserter(out), "{}", v.real);
    else
      out += "null";
  }
  out += '}';
  return out;
}

// A reading billing refused in a batch written without savepoints: write it again carefully.
struct RefusedReading {};

} // namespace

void write_event(storage::Database& db, UnixTime time, const std::string& kind, std::optional<std::int64_t> gateway_id,
                 std::optional<std::int64_t> meter_id, const std::string& detail) {
  db.cached("INSERT INTO events(time, kind, gateway_id, meter_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)")
      .bind_all(time, kind, gateway_id, meter_id, detail)
      .run();
}

struct ReadingStore::Impl {
  Impl(storage::Database& d, const config::Config& c) : db(d), biller(d, c) {}
  storage::Database& db;
  billing::Biller biller;
  // The latest reading of each meter stored in this transaction, for meter_values.
  std::unordered_map<std::int64_t, const PolledReading*> latest;
};

ReadingStore::ReadingStore(storage::Database& db, const config::Config& cfg)
    : m_impl(std::make_unique<Impl>(db, cfg)) {}
ReadingStore::~ReadingStore() = default;

std::string ReadingStore::store(const PolledReading& r) {
  billing::Reading b;
  b.meter_id = r.meter_id;
  b.time = r.time;
  // One pass over the values: the names billing takes, by where they go.
  std::optional<std::int64_t> energy, volume;
  for (const auto& v : r.values) {
    std::optional<std::int64_t>* slot = nullptr;
    const std::string_view n = v.name;
    if (n.size() < 11 || (n[0] != 'e' && n[0] != 'v' && n[0] != 'p')) continue;
    if (n == "energy_total") slot = &energy;
    else if (n == "volume_total") slot = &volume;
    else if (n == "energy_sharp") slot = &b.sharp;
    else if (n == "energy_peak") slot = &b.peak;
    else if (n == "energy_flat") slot = &b.flat;
    else if (n == "energy_valley") slot = &b.valley;
    else if (n == "power_total") slot = &b.power;
    if (!slot || *slot) continue; // the first of a name counts
    if (v.integer) *slot = v.integer;
    else if (std::isfinite(v.real)) *slot = static_cast<std::int64_t>(std::llround(v.real));
  }
  auto total = energy ? energy : volume;
  if (!total) fail(Exit::data, "meter id {}: no energy_total or volume_total in the reading", r.meter_id);
  b.value = *total;
  auto result = m_impl->biller.ingest(b);
  auto& slot = m_impl->latest[r.meter_id];
  if (!slot || slot->time <= r.time) slot = &r;
  // Plain readings are not worth a line each; what billing decided beyond a charge is.
  if (!result.events.empty() || !result.commands.empty() || result.outcome == billing::Outcome::held ||
      result.outcome == billing::Outcome::counter_reset)
    return result.summary();
  return {};
}

void ReadingStore::outside_billing(const std::function<void()>& write) { m_impl->biller.outside_billing(write); }

void ReadingStore::write_values() {
  if (m_impl->latest.empty()) return;
  m_impl->biller.outside_billing([&] {
    auto& st = m_impl->db.cached("INSERT INTO meter_values(meter_id, t, \"values\") VALUES (?1, ?2, ?3) "
                                 "ON CONFLICT(meter_id) DO UPDATE SET t = excluded.t, \"values\" = excluded.\"values\" "
                                 "WHERE excluded.t >= meter_values.t");
    for (const auto& [meter, r] : m_impl->latest) {
      st.bind_all(meter, r->time, values_json(r->values));
      st.run();
    }
  });
  m_impl->latest.clear();
}

void ReadingStore::drop_values() { m_impl->latest.clear(); }

int ReadingStore::post_days_over() { return m_impl->biller.post_days_over(); }

Writer::Writer(std::unique_ptr<storage::Database> db, config::Config cfg, Metrics& metrics)
    : m_db(std::move(db)), m_cfg(std::move(cfg)), m_metrics(metrics),
      m_max_backlog(static_cast<std::size_t>(m_cfg.poll.max_backlog)) {
  m_store = std::make_unique<ReadingStore>(*m_db, m_cfg);
}

Writer::~Writer() { stop(); }

void Writer::start() {
  // Each batch frees and allocates again some megabytes of records. glibc's malloc would hand
  // the top of the heap back to the kernel after every batch and fault it in again for the next
  // (page faults, brk and TLB flushes were a fifth of the write path's time): keep up to 64 MB.
  ::mallopt(M_TRIM_THRESHOLD, 64 << 20);
  ::mallopt(M_TOP_PAD, 4 << 20);
  ::mallopt(M_MMAP_THRESHOLD, 16 << 20); // fixed once the trim threshold is set; as glibc would grow it
  if (m_thread.joinable()) return;
  // The WAL is copied back into the database by a thread of its own (PASSIVE checkpoints, which
  // never take the write lock), not by the commit that crosses SQLite's automatic threshold: that
  // commit would wait for the copy and its fsyncs, a tenth of the write path's time. Without a
  // second connection, SQLite's automatic checkpoints stay.
  try {
    auto ckpt = storage::Database::open(m_db->path());
    m_db->exec("PRAGMA wal_autocheckpoint = 0");
    m_checkpointer = std::thread([this, c = std::move(ckpt)]() mutable { checkpoints(std::move(c)); });
  } catch (const Error& e) {
    log("database: no connection for checkpoints ({}); the writer makes them", e.what());
  }
  m_thread = std::thread([this] { run(); });
}

// At most four a second, after a commit. A checkpoint that another connection's reader holds
// back copies what it can; the rest goes with the next.
void Writer::checkpoints(std::unique_ptr<storage::Database> db) {
  std::unique_lock lock(m_ckpt_mutex);
  for (;;) {
    m_ckpt_wake.wait(lock, [&] { return m_ckpt_stop || m_ckpt_due; });
    if (m_ckpt_stop) break;
    m_ckpt_due = false;
    lock.unlock();
    try {
      db->exec("PRAGMA wal_checkpoint(PASSIVE)");
    } catch (const Error& e) {
      if (e.code() != Exit::temporary) log("database: checkpoint: {}", e.what());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    lock.lock();
  }
  lock.unlock();
  // What is left is copied by the last connection to close.
}

// The writer is woken for the first record of a burst, for a full batch, and for every job;
// records in between wait for the group commit (see run()).
void Writer::enqueue(Item item, bool urgent) {
  bool wake = false;
  {
    std::lock_guard lock(m_mutex);
    wake = urgent || m_queue.empty() || m_queue.size() + 1 >= k_batch_readings;
    if (auto* p = std::get_if<PollRecord>(&item); p && p->reading) ++m_queued_readings;
    m_queue.push_back({std::move(item), m_queued++});
    if (m_queued_readings > m_max_backlog.load(std::memory_order_relaxed) && m_queued_readings >= m_next_shed)
      shed();
  }
  if (wake) m_wake.notify_one();
}

void Writer::add(PollRecord record) { enqueue(std::move(record), false); }
void Writer::add(GatewayRecord record) { enqueue(std::move(record), false); }
void Writer::add(DeviceRecord record) { enqueue(std::move(record), false); }
void Writer::add(EventRecord record) { enqueue(std::move(record), false); }
void Writer::post(Job job) { enqueue(std::move(job), true); }
void Writer::post_outside_billing(Job job) {
  enqueue([this, job = std::move(job)](storage::Database& db) { m_store->outside_billing([&] { job(db); }); }, true);
}

void Writer::shed() {
  const std::size_t limit = m_max_backlog.load(std::memory_order_relaxed);
  // Down to three quarters of the limit, so that this pass over the queue runs once per
  // quarter of the limit of new readings, not for each.
  const std::size_t target = limit - limit / 4;
  // Readings queued by meter, counted here rather than kept up to date for every record: this
  // runs once per quarter of the limit of new readings.
  std::unordered_map<std::int64_t, std::uint32_t> by_meter;
  for (const auto& e : m_queue)
    if (auto* p = std::get_if<PollRecord>(&e.item); p && p->reading) ++by_meter[p->meter_id];
  std::size_t dropped = 0;
  // The next pass after another quarter of the limit, even when this one cannot reach its
  // target (more meters than the limit, each with one reading), so that passes stay rare.
  for (auto& e : m_queue) {
    if (m_queued_readings <= target) break;
    auto* p = std::get_if<PollRecord>(&e.item);
    // A relay's news is kept (the next reading may not carry it); a meter's only reading too.
    if (!p || !p->reading || p->reading->relay_news) continue;
    auto& n = by_meter[p->meter_id];
    if (n < 2) continue;
    --n;
    --m_queued_readings;
    p->reading.reset();
    ++dropped;
  }
  m_next_shed = m_queued_readings + std::max<std::size_t>(limit / 4, 1);
  if (dropped == 0) return;
  // Records left with nothing to write go; those with a status change stay, in order.
  std::erase_if(m_queue, [](const Entry& e) {
    auto* p = std::get_if<PollRecord>(&e.item);
    return p && !p->reading && !p->status && !p->failed_polls_changed;
  });
  m_metrics.readings_dropped.fetch_add(dropped, std::memory_order_relaxed);
  if (!m_dropping)
    log("backlog: {} readings waiting to be written, over [poll] max_backlog = {}: dropping the older readings "
        "of meters that have a newer one (their consumption stays in the next)",
        m_queued_readings + dropped, limit);
  m_dropping = true;
  m_dropped += dropped;
}

void Writer::taken(const Item& item) {
  auto* p = std::get_if<PollRecord>(&item);
  if (!p || !p->reading) return;
  --m_queued_readings;
  if (m_dropping && m_queued_readings < m_max_backlog.load(std::memory_order_relaxed) / 2) {
    log("backlog: {} readings waiting, under [poll] max_backlog again; {} readings were dropped", m_queued_readings,
        m_dropped);
    m_dropping = false;
    m_dropped = 0;
  }
}

std::size_t Writer::backlog_readings() const {
  std::lock_guard lock(m_mutex);
  return m_queued_readings;
}

void Writer::set_config(config::Config cfg) {
  m_max_backlog = static_cast<std::size_t>(cfg.poll.max_backlog);
  post([this, cfg = std::move(cfg)](storage::Database&) mutable {
    m_cfg = std::move(cfg);
    m_store = std::make_unique<ReadingStore>(*m_db, m_cfg);
  });
}

void Writer::flush() {
  std::unique_lock lock(m_mutex);
  if (!m_thread.joinable()) return;
  const auto target = m_queued;
  ++m_flushing;
  m_wake.notify_one();
  m_idle.wait(lock, [&] { return m_done >= target; });
  --m_flushing;
}

void Writer::stop() {
  {
    std::lock_guard lock(m_mutex);
    if (!m_thread.joinable()) return;
    m_stopping = true;
  }
  m_wake.notify_one();
  m_thread.join();
  if (m_checkpointer.joinable()) {
    {
      std::lock_guard lock(m_ckpt_mutex);
      m_ckpt_stop = true;
    }
    m_ckpt_wake.notify_one();
    m_checkpointer.join();
  }
}

double Writer::cpu_seconds() const {
  if (!m_thread.joinable()) return 0;
  clockid_t clock;
  timespec ts{};
  if (pthread_getcpuclockid(const_cast<std::thread&>(m_thread).native_handle(), &clock) != 0 ||
      clock_gettime(clock, &ts) != 0)
    return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::size_t Writer::backlog() const {
  std::lock_guard lock(m_mutex);
  return m_queue.size();
}

void Writer::run() {
  std::vector<Item> items;
  std::uint64_t upto = 0;
  for (;;) {
    {
      std::unique_lock lock(m_mutex);
      m_wake.wait(lock, [&] { return m_stopping || !m_queue.empty(); });
      if (m_queue.empty() && m_stopping) return;
      // Group commit: let the rest of a burst of polls arrive, so that one transaction (and
      // one fsync) carries many readings instead of one each.
      auto urgent = [&] {
        return m_stopping || m_flushing > 0 || m_queue.size() >= k_batch_readings ||
               std::holds_alternative<Job>(m_queue.back().item);
      };
      if (!urgent()) m_wake.wait_for(lock, k_batch_linger, urgent);
      // Take what is there, up to a batch.
      while (!m_queue.empty() && items.size() < k_batch_readings) {
        taken(m_queue.front().item);
        items.push_back(std::move(m_queue.front().item));
        m_queue.pop_front();
      }
      // What comes before the next queued item was taken now, or dropped.
      upto = m_queue.empty() ? m_queued : m_queue.front().seq;
    }
    std::size_t i = 0;
    while (i < items.size()) {
      if (auto* job = std::get_if<Job>(&items[i])) {
        try {
          (*job)(*m_db);
        } catch (const std::exception& e) {
          log("database: {}", e.what());
        }
        ++i;
      } else {
        write_records(items, i);
      }
    }
    {
      std::lock_guard lock(m_mutex);
      m_done = upto;
    }
    items.clear();
    m_idle.notify_all();
  }
}

// Writes the records from items[i] on, up to the next job, in transactions that each end at
// k_batch_time. A transaction that cannot start (database busy past its timeout) is retried
// until it can, unless kwhd is stopping.
// Readings go in without savepoints; when billing refuses one, the transaction is rolled back
// and written again with a savepoint per reading, so that only that reading is skipped.
void Writer::write_records(std::vector<Item>& items, std::size_t& i) {
  using clock = std::chrono::steady_clock;
  bool careful = false;
  for (int attempt = 0;; ++attempt) {
    const std::size_t first = i;
    m_lines.clear();
    try {
      auto started = clock::now();
      storage::Transaction tx(*m_db);
      std::uint64_t readings = 0;
      while (i < items.size() && !std::holds_alternative<Job>(items[i])) {
        if (auto* p = std::get_if<PollRecord>(&items[i])) {
          if (write_one(*m_db, *p, careful)) ++readings;
        } else if (auto* g = std::get_if<GatewayRecord>(&items[i])) {
          m_store->outside_billing([&] { write_one(*m_db, *g); });
        } else if (auto* d = std::get_if<DeviceRecord>(&items[i])) {
          m_store->outside_billing([&] { write_one(*m_db, *d); });
        } else {
          const auto& e = std::get<EventRecord>(items[i]);
          m_store->outside_billing([&] { write_event(*m_db, e.time, e.kind, e.gateway_id, e.meter_id, e.detail); });
        }
        ++i;
        if (clock::now() - started >= k_batch_fill) break;
      }
      m_store->write_values();
      m_store->post_days_over();
      if (m_cfg.hooks.any()) collect_hooks();
      tx.commit();
      if (m_checkpointer.joinable()) {
        std::lock_guard lock(m_ckpt_mutex);
        m_ckpt_due = true;
        m_ckpt_wake.notify_one();
      }
      m_metrics.db_write.observe(std::chrono::duration<double>(clock::now() - started).count());
      m_metrics.readings_written.fetch_add(readings, std::memory_order_relaxed);
      // What billing said is logged once it is committed.
      for (const auto& line : m_lines) log("{}", line);
      m_lines.clear();
      return;
    } catch (const RefusedReading&) {
      m_store->drop_values();
      i = first;
      careful = true;
    } catch (const Error& e) {
      m_store->drop_values();
      i = first;
      if (e.code() == Exit::temporary && !m_stopping) {
        // Another writer holds the lock (a long kwh reading import): wait for it, however long,
        // rather than lose readings; the polls queue up meanwhile. Said once, then every minute.
        if (attempt % 12 == 0)
          log("database busy{}: {} records waiting to be written", attempt ? ", still" : "", backlog() + items.size() - first);
        continue;
      }
      // Not something waiting helps: drop this batch's records so that the daemon keeps going.
      log("database: {}; {} records not written", e.what(), items.size() - first);
      while (i < items.size() && !std::holds_alternative<Job>(items[i])) ++i;
      return;
    }
  }
}

// The hooks' deliveries of what this transaction wrote, made in it: their payloads have the
// balances right after the readings that crossed an alarm. A savepoint (which has billing write
// what it holds first) keeps a failure here from costing the readings.
void Writer::collect_hooks() {
  m_store->outside_billing([&] {
    try {
      storage::Savepoint sp(*m_db, "hooks");
      hooks::collect(*m_db, m_cfg, now());
      sp.release();
    } catch (const Error& e) {
      if (e.code() == Exit::temporary) throw;
      log("hooks: {}", e.what());
    }
  });
}

bool Writer::write_one(storage::Database& db, const PollRecord& r, bool careful) {
  bool stored = false;
  if (r.reading && !careful) {
    try {
      auto line = m_store->store(*r.reading);
      if (!line.empty()) m_lines.push_back(std::move(line));
      stored = true;
    } catch (const Error& e) {
      if (e.code() == Exit::temporary) throw;
      throw RefusedReading();
    }
  } else if (r.reading) {
    try {
      storage::Savepoint sp(db, "reading");
      auto line = m_store->store(*r.reading);
      sp.release();
      if (!line.empty()) m_lines.push_back(std::move(line));
      stored = true;
    } catch (const Error& e) {
      if (e.code() == Exit::temporary) throw;
      log("reading of meter id {} at {} not stored: {}", r.meter_id, format_time(r.reading->time), e.what());
    }
  }
  if (stored && r.reading->relay_news && r.reading->relay_closed) {
    auto line = relay_reported(db, r.meter_id, *r.reading->relay_closed, r.reading->time);
    if (!line.empty()) m_lines.push_back(std::move(line));
  }
  if (r.status || r.failed_polls_changed) m_store->outside_billing([&] { write_status(db, r); });
  return stored;
}

void Writer::write_status(storage::Database& db, const PollRecord& r) {
  if (r.status) {
    db.cached("UPDATE meters SET status = ?2, status_since = ?3, failed_polls = ?4 WHERE id = ?1")
        .bind_all(r.meter_id, status_name(*r.status), r.time, r.failed_polls)
        .run();
    if (*r.status == Status::offline) {
      if (!r.quiet) write_event(db, r.time, "meter_offline", r.gateway_id, r.meter_id, r.detail);
    } else if (*r.status == Status::online) {
      db.cached("UPDATE events SET ended = ?2 WHERE meter_id = ?1 AND kind = 'meter_offline' AND ended IS NULL")
          .bind_all(r.meter_id, r.time)
          .run();
      if (!r.quiet || db.changes() > 0) write_event(db, r.time, "meter_online", r.gateway_id, r.meter_id, r.detail);
    }
  } else if (r.failed_polls_changed) {
    db.cached("UPDATE meters SET failed_polls = ?2 WHERE id = ?1").bind_all(r.meter_id, r.failed_polls).run();
  }
}

void Writer::write_one(storage::Database& db, const GatewayRecord& r) {
  db.cached("UPDATE gateways SET status = ?2, status_since = ?3 WHERE id = ?1")
      .bind_all(r.gateway_id, status_name(r.status), r.time)
      .run();
  if (r.status == Status::offline) {
    write_event(db, r.time, "gateway_offline", r.gateway_id, std::nullopt, r.detail);
  } else if (r.status == Status::online) {
    db.cached("UPDATE events SET ended = ?2 WHERE gateway_id = ?1 AND meter_id IS NULL AND kind = 'gateway_offline' "
              "AND ended IS NULL")
        .bind_all(r.gateway_id, r.time)
        .run();
    write_event(db, r.time, "gateway_online", r.gateway_id, std::nullopt, r.detail);
  }
}

void Writer::write_one(storage::Database& db, const DeviceRecord& r) {
  if (r.status == Status::offline) {
    write_event(db, r.time, "device_offline", r.gateway_id, std::nullopt, r.detail);
  } else if (r.status == Status::online) {
    // The device's open event: its gateway, no meter, and a detail that begins with its name
    // (device names have no blanks, so "device D1: " is never the start of another's).
    const std::string prefix = fmt::format("device {}: ", r.device);
    db.cached("UPDATE events SET ended = ?2 WHERE gateway_id = ?1 AND meter_id IS NULL AND kind = 'device_offline' "
              "AND ended IS NULL AND substr(detail, 1, length(?3)) = ?3")
        .bind_all(r.gateway_id, r.time, prefix)
        .run();
    write_event(db, r.time, "device_online", r.gateway_id, std::nullopt, r.detail);
  }
}

} // namespace kwh::daemon
