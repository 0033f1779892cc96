#include <kwh/hub/pusher.hpp>

#include <kwh/hub/hub.hpp>
#include <kwh/util/time.hpp>

#include <fmt/format.h>

namespace kwh::hub {

namespace {

// Pushed rows stay in the outbox this long (for `kwh hub status` and comparisons), then go.
constexpr std::chrono::seconds k_keep_pushed = std::chrono::hours(24 * 7);

} // namespace

Pusher::Pusher(std::string database_path, config::Hub cfg, Write write, PushCounters& counters, Log log)
    : m_path(std::move(database_path)), m_cfg(std::move(cfg)), m_write(std::move(write)), m_counters(counters),
      m_log(std::move(log)) {}

Pusher::~Pusher() { stop(); }

void Pusher::start() {
  m_thread = std::thread([this] { run(); });
}

void Pusher::stop() {
  m_interrupt = true;
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_wake.notify_all();
  if (m_thread.joinable()) m_thread.join();
}

void Pusher::note(const std::string& line) {
  if (line == m_last_line) return;
  m_last_line = line;
  if (m_log) m_log(line);
}

void Pusher::alarm(const std::string& kind, std::optional<std::int64_t> seq, const std::string& detail, bool at_hub) {
  try {
    if (m_conn && at_hub) raise_alarm(*m_conn, m_cfg.site_id, kind, seq, detail);
  } catch (const std::exception& e) {
    note(fmt::format("hub: the alarm could not be written at the hub: {}", e.what()));
  }
  m_write([&](storage::Database& db) {
    storage::Transaction tx(db);
    record_alarm(db, detail, now());
    tx.commit();
  });
  m_counters.alarm = 1;
  note(fmt::format("hub: ALARM, pushes stopped: {}", detail));
}

void Pusher::verify(const OutboxState& state) {
  auto site = find_site(*m_conn, m_cfg.site_id);
  if (!site) {
    register_site(*m_conn, m_cfg.site_id, state.epoch);
    site = find_site(*m_conn, m_cfg.site_id);
    if (!site) fail(Exit::failed, "hub: site {} could not be registered", m_cfg.site_id);
    note(fmt::format("hub: site {} registered at {} (epoch {})", m_cfg.site_id, m_conn->where(), state.epoch));
  }
  if (site->epoch != state.epoch && state.previous_epoch == site->epoch) {
    // kwh hub reset-epoch at this site: the hub keeps the old epoch's rows apart.
    const auto kept = new_epoch(*m_conn, m_cfg.site_id, site->epoch, state.epoch);
    note(fmt::format("hub: site {} has the new epoch {}; the hub keeps the rows of epoch {} apart as site {}",
                     m_cfg.site_id, state.epoch, site->epoch, kept.value_or("(moved before)")));
    site = find_site(*m_conn, m_cfg.site_id);
    if (!site) fail(Exit::failed, "hub: site {} is gone from the hub", m_cfg.site_id);
  }
  if (site->stopped) {
    // The hub has its alarm already: this site records it, and writes no second one there.
    alarm("restored", std::nullopt, "the hub refuses this site's pushes: " + *site->stopped, false);
    return;
  }
  if (site->epoch != state.epoch) {
    alarm("epoch", std::nullopt,
          fmt::format("the hub holds epoch {} for site {}, this database has epoch {}: another database uses this "
                      "site_id, or this one was made again",
                      site->epoch, m_cfg.site_id, state.epoch));
    return;
  }
  if (site->last_seq > state.max_seq) {
    alarm("restored", site->last_seq,
          fmt::format("the hub holds rows of site {} up to seq {}, this database's outbox ends at seq {}: it was "
                      "restored from an older copy; not merged",
                      m_cfg.site_id, site->last_seq, state.max_seq));
    return;
  }
  if (site->last_seq > 0) {
    auto mine = row_at(*m_read, site->last_seq, m_cfg.site_id, state.epoch);
    auto theirs = row_hash_at(*m_conn, m_cfg.site_id, site->last_seq);
    if (mine && theirs && *theirs != mine->hash) {
      alarm("restored", site->last_seq,
            fmt::format("the hub's row {} of site {} differs from this database's: it was restored from an older "
                        "copy and has written other rows since; not merged",
                        site->last_seq, m_cfg.site_id));
      return;
    }
  }
  // After a crash between the hub's commit and ours, the hub is ahead: those rows go again
  // and are duplicates. The hub behind us (restored itself) gets what we still have.
  m_cursor = std::min(state.pushed, site->last_seq);
  m_epoch = state.epoch;
  m_verified = true;
}

std::int64_t Pusher::push_batch_once() {
  if (!m_read) m_read = storage::Database::open(m_path, storage::OpenMode::read_only);
  const OutboxState state = read_state(*m_read);
  m_counters.rows_waiting = static_cast<std::uint64_t>(state.waiting);
  if (state.alarm) {
    m_counters.alarm = 1;
    note(fmt::format("hub: pushes stopped by an alarm: {}", *state.alarm));
    return 0;
  }
  m_counters.alarm = 0;
  // A new epoch (kwh hub reset-epoch) since the last verification: the outbox starts over.
  if (m_verified && state.epoch != m_epoch) m_verified = false;
  // A day of usage or a balance whose last change got no mark of its own (usage_every) gets one now.
  const auto every = std::chrono::duration_cast<std::chrono::seconds>(m_cfg.usage_every);
  if (sweep_due(*m_read, now(), every)) {
    m_write([&](storage::Database& db) {
      storage::Transaction tx(db);
      sweep_marks(db, now(), every);
      tx.commit();
    });
  }
  if (m_verified && state.waiting == 0 && m_cursor >= state.pushed) return 0;
  if (!m_conn || !m_conn->ok()) {
    m_conn.reset();
    m_verified = false;
    m_conn = PgConnection::connect(m_cfg.url, 5);
    m_conn->set_interrupt(&m_interrupt);
  }
  if (!m_verified) {
    verify(state);
    if (!m_verified) return 0;
    note(fmt::format("hub: pushing to {} as site {} from seq {}", m_conn->where(), m_cfg.site_id, m_cursor + 1));
  }
  // kwh hub reset-epoch may start a new epoch at any moment: each step below sees, in its own
  // transaction or statement, that the epoch is still the one verified, else starts over.
  std::int64_t upto = m_cursor;
  bool same_epoch = true;
  m_write([&](storage::Database& db) {
    storage::Transaction tx(db);
    if (site_epoch(db) != state.epoch) {
      same_epoch = false;
      return;
    }
    set_usage_every(db, every);
    upto = claim(db, m_cursor, m_cfg.batch);
    tx.commit();
  });
  if (!same_epoch) {
    m_verified = false;
    return 0;
  }
  if (upto <= m_cursor) return 0;
  auto batch = rows(*m_read, m_cursor, upto, m_cfg.site_id, state.epoch);
  if (batch.empty()) {
    if (site_epoch(*m_read) != state.epoch) {
      m_verified = false;
      return 0;
    }
    m_cursor = upto;
    return 0;
  }
  auto result = push_batch(*m_conn, m_cfg.site_id, state.epoch, batch);
  if (result.stopped) {
    alarm("restored", std::nullopt, "the hub refuses this site's pushes: " + *result.stopped, false);
    return 0;
  }
  if (result.other_epoch) {
    alarm("epoch", std::nullopt,
          fmt::format("the hub holds epoch {} for site {}, this database has epoch {}", *result.other_epoch,
                      m_cfg.site_id, state.epoch));
    return 0;
  }
  if (!result.mismatches.empty()) {
    const auto& m = result.mismatches.front();
    alarm("hash_mismatch", m.seq,
          fmt::format("the hub holds row {} of site {} with hash {}, this database has {} ({} rows differ): the "
                      "database was restored or changed; not merged",
                      m.seq, m_cfg.site_id, m.hub_hash.substr(0, 16), m.site_hash.substr(0, 16),
                      result.mismatches.size()));
    return 0;
  }
  m_write([&](storage::Database& db) {
    storage::Transaction tx(db);
    if (site_epoch(db) != state.epoch) {
      same_epoch = false;
      return;
    }
    record_pushed(db, upto, now(), k_keep_pushed);
    tx.commit();
  });
  if (!same_epoch) {
    m_verified = false;
    return 0;
  }
  m_cursor = upto;
  m_counters.rows_pushed += static_cast<std::uint64_t>(result.inserted);
  const auto left = state.waiting - static_cast<std::int64_t>(batch.size());
  m_counters.rows_waiting = static_cast<std::uint64_t>(std::max<std::int64_t>(left, 0));
  return static_cast<std::int64_t>(batch.size());
}

std::int64_t Pusher::push_all() {
  std::int64_t total = 0;
  for (;;) {
    const auto n = push_batch_once();
    total += n;
    if (n < m_cfg.batch) break;
  }
  apply_intents();
  return total;
}

std::int64_t Pusher::apply_intents() {
  if (!m_sell || !m_conn || !m_verified || m_counters.alarm != 0) return 0;
  std::int64_t answered = 0;
  for (const auto& intent : pending_intents(*m_conn, m_cfg.site_id, 100)) {
    try {
      const Sale sale = m_sell(intent);
      intent_done(*m_conn, intent.id, sale.receipt, sale.balance);
      note(fmt::format("hub: office top-up {} applied: receipt {} to {}", intent.ref, sale.receipt, intent.account));
    } catch (const Error& e) {
      if (e.code() != Exit::data && e.code() != Exit::no_input) throw;
      intent_refused(*m_conn, intent.id, e.what());
      note(fmt::format("hub: office top-up {} refused: {}", intent.ref, e.what()));
    }
    ++answered;
  }
  return answered;
}

void Pusher::run() {
  auto backoff = m_cfg.retry;
  int failures = 0;
  for (;;) {
    std::chrono::milliseconds delay = m_cfg.interval;
    try {
      const auto n = push_batch_once();
      apply_intents();
      if (failures > 0) note(fmt::format("hub: pushing again after {} failed attempts", failures));
      failures = 0;
      backoff = m_cfg.retry;
      if (n >= m_cfg.batch) delay = std::chrono::milliseconds(0);
    } catch (const std::exception& e) {
      m_conn.reset();
      m_verified = false;
      // A read connection that failed (the file replaced) is opened again too.
      m_read.reset();
      ++failures;
      m_counters.push_errors++;
      const std::string what = e.what();
      note(fmt::format("hub: push failed, retrying with back-off from {}: {}", format_duration(backoff), what));
      try {
        m_write([&](storage::Database& db) {
          storage::Transaction tx(db);
          record_error(db, what, now());
          tx.commit();
        });
      } catch (...) {
      }
      delay = backoff;
      backoff = std::min(backoff * 2, m_cfg.retry_max);
    }
    std::unique_lock lock(m_mutex);
    if (m_wake.wait_for(lock, delay, [this] { return m_stopping; })) return;
  }
}

} // namespace kwh::hub
