#include <kwh/billing/biller.hpp>

#include <kwh/billing/charge.hpp>
#include <kwh/billing/credit.hpp>
#include <kwh/billing/interval.hpp>
#include <kwh/billing/standing.hpp>
#include <kwh/billing/status.hpp>
#include <kwh/ledger/ledger.hpp>
#include <kwh/readings/store.hpp>
#include <kwh/storage/database.hpp>

#include <sqlite3.h>

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace kwh::billing {

struct Biller::Meter {
  std::int64_t id = 0;
  std::string name, kind, relay_mode, relay_state;
  std::optional<std::int64_t> overload_w, max_power_w;
};

struct Biller::Previous {
  UnixTime t = 0;
  std::int64_t value = 0;
  std::optional<std::int64_t> sharp, peak, flat, valley;
};

struct Biller::Known {
  Meter meter;
  std::vector<Assignment> assignments; // every one the meter had, by valid_from
  // Its latest reading: kept in m_latest, which outlives other connections' commits unless
  // they stored readings (the readings generation tells).
  std::optional<Previous>* latest = nullptr;
  // The accumulators and the rollup its last reading went to, so that the next one finds them
  // without a look-up (m_groups never moves its elements; m_usage is emptied by write_pending,
  // which bumps m_usage_epoch).
  Group* group = nullptr;
  std::int64_t group_account = 0;
  Usage* usage = nullptr;
  UnixTime usage_day = 0;
  std::int64_t usage_account = -1;
  std::uint64_t usage_epoch = 0;
};

struct Biller::AccountState {
  std::int64_t id = 0;
  std::int64_t balance = 0;  // the whole balance: ledger less open accumulators
  std::int64_t accrued = 0;  // what its open accumulators hold
  std::int64_t carry = 0;
  std::int64_t written_balance = 0, written_carry = 0; // what the database holds
  std::string status;
  std::optional<std::int64_t> alarm1, alarm2;
  std::int64_t credit_limit = 0;
  std::int64_t emergency_owed = 0, emergency = 0; // owed, and what it may take (credit.hpp)
  bool checked = false; // update_status has run since it was loaded
  bool standing_known = false;
  UnixTime standing_next = 0; // the next boundary a standing charge may fall on
  UnixTime tier_month = -1;   // the site-local month tier_used is for
  std::int64_t tier_used = 0;
};

// One open accumulator, and what the database holds of it (for the compare-and-set).
struct Biller::Open {
  ledger::Accumulator acc;
  bool in_db = false;
  bool dirty = false;
  std::int64_t db_quantity = 0, db_amount = 0;
};

// The open accumulators of one (account, meter): one day at a time, one per band.
struct Biller::Group {
  std::int64_t account_id = 0, meter_id = 0;
  std::vector<Open> bands;
  bool dirty = false;
};

struct Biller::Usage {
  std::int64_t quantity = 0, cost = 0;
};

const char* outcome_name(Outcome o) {
  switch (o) {
  case Outcome::baseline: return "baseline";
  case Outcome::billed: return "billed";
  case Outcome::duplicate: return "duplicate";
  case Outcome::counter_reset: return "counter_reset";
  case Outcome::held: return "held";
  }
  return "billed";
}

Biller::Biller(storage::Database& db, const config::Config& config)
    : m_db(db), m_config(config), m_clock([] { return kwh::now(); }) {
  m_db.add_deferred(this);
}

Biller::~Biller() {
  m_db.remove_deferred(this);
  // A caller that commits after dropping its Biller would lose what is pending: write it now.
  if (pending() && !sqlite3_get_autocommit(m_db.handle())) {
    try {
      write_pending();
    } catch (...) {
      // The transaction fails at its commit or rolls back; nothing more to do here.
    }
  }
}

namespace {

const char* unit_of(const std::string& kind) { return kind == "water" ? "L" : "Wh"; }

} // namespace

std::string IngestResult::summary() const {
  if (outcome != Outcome::billed) return note;
  return fmt::format("meter {} at {}: +{} {}, charged {}", meter, format_time(time), quantity, unit,
                     Money::from_minor(charged).format(minor_units));
}

Biller::Meter Biller::load_meter(std::int64_t meter_id) {
  auto& ms = m_db.cached("SELECT id, name, kind, relay_mode, relay_state, overload_w, max_power_w FROM meters "
                         "WHERE id = ?1");
  ms.bind(1, meter_id);
  if (!ms.step()) fail(Exit::no_input, "no such meter id {}", meter_id);
  Meter m{ms.get_int(0), ms.get_text(1), ms.get_text(2), ms.get_text(3), ms.get_text(4), ms.get_opt_int(5),
          ms.get_opt_int(6)};
  ms.reset();
  return m;
}

std::optional<Biller::Previous> Biller::load_latest(std::int64_t meter_id) {
  auto r = readings::latest(m_db, meter_id);
  if (!r) return std::nullopt;
  return Previous{r->t, r->value, r->sharp, r->peak, r->flat, r->valley};
}

std::vector<Biller::Assignment> Biller::load_assignments(std::int64_t meter_id) {
  std::vector<Assignment> out;
  auto& as = m_db.cached("SELECT s.account_id, a.tariff_id, s.valid_from, s.valid_to, a.status FROM assignments s "
                         "JOIN accounts a ON a.id = s.account_id WHERE s.meter_id = ?1 ORDER BY s.valid_from");
  as.bind(1, meter_id);
  while (as.step())
    out.push_back({as.get_text(4) == "closed" ? 0 : as.get_int(0), as.get_int(1), as.get_int(2), as.get_opt_int(3)});
  as.reset();
  return out;
}

void Biller::sync() {
  const bool rolled_back = m_db.rollbacks() != m_seen_rollbacks;
  bool stale = m_db.total_changes() != m_seen_changes;
  // Other connections' commits show in data_version; within a Transaction none can come in, so
  // it is read once per transaction (and at every reading outside one).
  const bool in_transaction = !sqlite3_get_autocommit(m_db.handle());
  if (!in_transaction || m_db.transactions_begun() != m_seen_transactions) {
    auto& st = m_db.cached("PRAGMA data_version");
    st.step();
    const std::int64_t version = st.get_int(0);
    st.reset();
    stale = stale || version != m_data_version;
    m_data_version = version;
    m_seen_transactions = m_db.transactions_begun();
  }
  if (rolled_back) {
    forget(); // what was pending was rolled back with it
  } else if (stale) {
    // Something else wrote, here or through another connection: what is pending is still ours
    // to write (checked row by row), then everything is read again, but for the meters' latest
    // readings, unless somebody stored readings (an import, an accepted reading): the readings
    // generation says so.
    if (pending()) write_pending();
    auto& gen = m_db.cached("SELECT coalesce((SELECT value FROM sequences WHERE name = 'readings'), 0)");
    gen.step();
    const std::int64_t generation = gen.get_int(0);
    gen.reset();
    if (generation != m_generation) m_latest.clear();
    m_generation = generation;
    forget_known();
  }
  m_seen_rollbacks = m_db.rollbacks();
  m_seen_changes = m_db.total_changes();
}

void Biller::forget() {
  forget_known();
  m_latest.clear();
  m_generation = -1;
  m_stored = false;
  m_rows.clear();
}

void Biller::forget_known() {
  m_known.clear();
  m_tariffs.clear();
  m_accounts.clear();
  m_groups.clear();
  m_usage.clear();
  ++m_usage_epoch;
  m_head = {};
}

void Biller::settle() { m_seen_changes = m_db.total_changes(); }

void Biller::outside_billing(const std::function<void()>& write) {
  const bool in_step = m_db.total_changes() == m_seen_changes && m_db.rollbacks() == m_seen_rollbacks;
  write();
  if (in_step) settle();
}

bool Biller::pending() const {
  if (!m_usage.empty() || m_stored || !m_rows.empty()) return true;
  for (const auto& [id, a] : m_accounts)
    if (a.balance != a.written_balance || a.carry != a.written_carry) return true;
  for (const auto& [key, g] : m_groups)
    if (g.dirty) return true;
  return false;
}

void Biller::flush() {
  sync();
  write_pending();
  settle();
}

void Biller::write_pending() {
  if (!m_rows.empty()) readings::insert_rows(m_db, m_rows);
  if (m_stored) {
    // Other connections' Billers learn from this that their latest readings may be stale.
    auto& st = m_db.cached("INSERT INTO sequences(name, value) VALUES ('readings', 1) "
                           "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value");
    st.step();
    m_generation = st.get_int(0);
    st.reset();
    m_stored = false;
  }
  for (auto& [id, a] : m_accounts) write_account(a);
  for (auto& [key, g] : m_groups) write_group(g);
  if (!m_usage.empty()) {
    auto& st = m_db.cached("INSERT INTO daily_usage(day, meter_id, account_id, quantity, cost) VALUES (?1, ?2, ?3, ?4, ?5) "
                           "ON CONFLICT(day, meter_id, account_id) DO UPDATE SET quantity = quantity + excluded.quantity, "
                           "cost = cost + excluded.cost");
    for (const auto& [key, u] : m_usage) {
      st.bind_all(std::get<0>(key), std::get<1>(key), std::get<2>(key), u.quantity, u.cost);
      st.run();
    }
    m_usage.clear();
    ++m_usage_epoch;
  }
}

// The account's balance and carry, and its accumulators, so that SQL that reads them (status,
// standing charges, ledger::append) sees what billing knows.
void Biller::write_account(AccountState& a) {
  if (a.balance != a.written_balance || a.carry != a.written_carry) {
    // The balance as a difference: what another writer added meanwhile stays added.
    auto& st = m_db.cached("UPDATE accounts SET balance = balance + ?2, carry = ?3 WHERE id = ?1");
    st.bind_all(a.id, a.balance - a.written_balance, a.carry);
    st.run();
    a.written_balance = a.balance;
    a.written_carry = a.carry;
  }
}

void Biller::write_group(Group& g) {
  if (!g.dirty) return;
  for (auto& o : g.bands) {
    if (!o.dirty) continue;
    const auto& a = o.acc;
    auto hash = ledger::accumulator_hash(a);
    if (o.in_db) {
      auto& st = m_db.cached("UPDATE accumulators SET day = ?4, version_id = ?5, t0 = ?6, t1 = ?7, quantity = ?8, "
                             "amount = ?9, hash = ?10 WHERE account_id = ?1 AND meter_id = ?2 AND band = ?3 AND "
                             "quantity = ?11 AND amount = ?12");
      st.bind_all(a.account_id, a.meter_id, a.band, a.day, a.version_id, a.t0, a.t1, a.quantity, a.amount);
      st.bind_blob(10, hash.data(), hash.size());
      st.bind(11, o.db_quantity).bind(12, o.db_amount);
      st.run();
      if (m_db.changes() != 1)
        fail(Exit::temporary, "the accumulator of account id {}, meter id {}, band {} was changed by another writer; "
                              "try again",
             a.account_id, a.meter_id, a.band);
    } else {
      auto& st = m_db.cached("INSERT INTO accumulators(account_id, meter_id, band, day, version_id, t0, t1, quantity, "
                             "amount, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
      st.bind_all(a.account_id, a.meter_id, a.band, a.day, a.version_id, a.t0, a.t1, a.quantity, a.amount);
      st.bind_blob(10, hash.data(), hash.size());
      st.run();
      o.in_db = true;
    }
    o.db_quantity = a.quantity;
    o.db_amount = a.amount;
    o.dirty = false;
  }
  g.dirty = false;
}

Biller::AccountState& Biller::account(std::int64_t account_id) {
  auto it = m_accounts.find(account_id);
  if (it != m_accounts.end()) return it->second;
  auto& st = m_db.cached("SELECT balance, carry, status, alarm1, alarm2, credit_limit, (SELECT coalesce(sum(amount), 0) "
                         "FROM accumulators WHERE account_id = ?1), emergency_owed, emergency_credit FROM accounts "
                         "WHERE id = ?1");
  st.bind(1, account_id);
  if (!st.step()) fail(Exit::no_input, "no such account id {}", account_id);
  AccountState a;
  a.id = account_id;
  a.balance = a.written_balance = st.get_int(0);
  a.carry = a.written_carry = st.get_int(1);
  a.status = st.get_text(2);
  a.alarm1 = st.get_opt_int(3);
  a.alarm2 = st.get_opt_int(4);
  a.credit_limit = st.get_int(5);
  a.accrued = st.get_int(6);
  a.emergency_owed = st.get_int(7);
  a.emergency = emergency_amount(m_config, st.get_opt_int(8));
  st.reset();
  return m_accounts.emplace(account_id, std::move(a)).first->second;
}

// After SQL that may have changed the account (a standing charge, a status change): its
// balance and status as the database has them now.
void Biller::after_sql(AccountState& a) {
  auto& st = m_db.cached("SELECT balance, status, emergency_owed FROM accounts WHERE id = ?1");
  st.bind(1, a.id);
  st.step();
  a.balance = a.written_balance = st.get_int(0);
  a.status = st.get_text(1);
  a.emergency_owed = st.get_int(2);
  st.reset();
}

Biller::Group& Biller::group(std::int64_t account_id, std::int64_t meter_id) {
  auto key = std::make_pair(account_id, meter_id);
  auto it = m_groups.find(key);
  if (it != m_groups.end()) return it->second;
  Group g;
  g.account_id = account_id;
  g.meter_id = meter_id;
  for (auto& acc : ledger::open_accumulators(m_db, account_id, meter_id)) {
    Open o;
    o.db_quantity = acc.quantity;
    o.db_amount = acc.amount;
    o.acc = std::move(acc);
    o.in_db = true;
    g.bands.push_back(std::move(o));
  }
  return m_groups.emplace(key, std::move(g)).first->second;
}

void Biller::post_one(AccountState& a, Open& o) {
  ledger::insert(m_db, ledger::posting(o.acc, a.balance, a.accrued - o.acc.amount), &m_head);
  a.accrued -= o.acc.amount;
  if (o.in_db) {
    auto& st = m_db.cached("DELETE FROM accumulators WHERE account_id = ?1 AND meter_id = ?2 AND band = ?3 AND "
                           "quantity = ?4 AND amount = ?5");
    st.bind_all(o.acc.account_id, o.acc.meter_id, o.acc.band, o.db_quantity, o.db_amount);
    st.run();
    if (m_db.changes() != 1)
      fail(Exit::temporary, "the accumulator of account id {}, meter id {}, band {} was changed by another writer; "
                            "try again",
           o.acc.account_id, o.acc.meter_id, o.acc.band);
  }
}

void Biller::post(AccountState& a, Group& g) {
  for (auto& o : g.bands) post_one(a, o);
  g.bands.clear();
}

int Biller::post_days_over() {
  sync();
  const UnixTime cutoff = local_day_start(m_clock() - k_day_grace);
  {
    // Rows not in memory: load their groups.
    std::vector<std::pair<std::int64_t, std::int64_t>> keys;
    auto& st = m_db.cached("SELECT DISTINCT account_id, meter_id FROM accumulators WHERE day < ?1");
    st.bind(1, cutoff);
    while (st.step()) keys.emplace_back(st.get_int(0), st.get_int(1));
    st.reset();
    for (const auto& [account_id, meter_id] : keys) group(account_id, meter_id);
  }
  int posted = 0;
  for (auto& [key, g] : m_groups) {
    AccountState* a = nullptr;
    for (std::size_t i = 0; i < g.bands.size();) {
      if (g.bands[i].acc.day >= cutoff) {
        ++i;
        continue;
      }
      if (!a) a = &account(g.account_id);
      post_one(*a, g.bands[i]);
      g.bands.erase(g.bands.begin() + static_cast<std::ptrdiff_t>(i));
      ++posted;
    }
  }
  settle();
  return posted;
}

UnixTime Biller::day_of(UnixTime t) {
  if (t < m_day_start || t >= m_day_end) {
    m_day_start = local_day_start(t);
    m_day_end = add_local_days(m_day_start, 1);
  }
  return m_day_start;
}

Biller::Known& Biller::known(std::int64_t meter_id) {
  sync();
  auto it = m_known.find(meter_id);
  if (it == m_known.end()) {
    it = m_known.emplace(meter_id, Known{load_meter(meter_id), load_assignments(meter_id)}).first;
    auto latest = m_latest.find(meter_id);
    if (latest == m_latest.end()) latest = m_latest.emplace(meter_id, load_latest(meter_id)).first;
    it->second.latest = &latest->second;
  }
  return it->second;
}

IngestResult Biller::ingest(const Reading& r) {
  const Known& k = known(r.meter_id);
  const Meter& m = k.meter;
  if (r.value < 0) fail(Exit::data, "meter {}: a negative counter value ({})", m.name, r.value);
  const std::optional<Previous>& prev = *k.latest;
  if (prev && r.time == prev->t) {
    if (r.value != prev->value)
      fail(Exit::data, "meter {} already has a reading at {} with a different value ({} vs {})", m.name,
           format_time(r.time), prev->value, r.value);
    IngestResult res;
    res.outcome = Outcome::duplicate;
    res.note = fmt::format("meter {} at {}: the same reading again, skipped", m.name, format_time(r.time));
    return res;
  }
  if (prev && r.time < prev->t)
    fail(Exit::data, "meter {}: reading at {} is older than its latest reading ({})", m.name, format_time(r.time),
         format_time(prev->t));
  // Copies: storing the reading updates what is known of the meter.
  IngestResult res = store_and_bill(m, r, prev, k.assignments, false);
  if (sqlite3_get_autocommit(m_db.handle())) write_pending(); // no transaction will
  settle();
  return res;
}

IngestResult Biller::store_and_bill(Meter m, const Reading& r, std::optional<Previous> prev,
                                    const std::vector<Assignment>& assignments, bool force) {
  IngestResult res;
  res.meter = m.name;
  res.time = r.time;
  res.unit = unit_of(m.kind);
  res.minor_units = m_config.minor_units;
  relay_rules(m, r, res);
  if (!prev) {
    store_reading(r, r.imported ? 1 : 0);
    res.outcome = Outcome::baseline;
    res.note = fmt::format("meter {} at {}: first reading {} {}, the baseline", m.name, format_time(r.time),
                              r.value, unit_of(m.kind));
    return res;
  }
  std::int64_t delta = r.value - prev->value;
  res.quantity = delta;
  if (delta < 0) {
    store_reading(r, (r.imported ? 1 : 0) | 2);
    write_event(m_db, r.time, "counter_reset", m.id, std::nullopt,
                fmt::format("meter {}: counter went from {} to {} {}; new baseline", m.name, prev->value, r.value,
                            unit_of(m.kind)));
    res.events.push_back("counter_reset");
    res.outcome = Outcome::counter_reset;
    res.quantity = 0;
    res.note = fmt::format("meter {} at {}: counter reset ({} -> {}), new baseline, no charge", m.name,
                              format_time(r.time), prev->value, r.value);
    return res;
  }
  std::int64_t max_power = m.max_power_w.value_or(m_config.billing.max_power_w);
  // Δ > max_power × dt / 3600 × 1.5  <=>  Δ × 7200 > max_power × dt × 3, exactly.
  if (!force && static_cast<Int128>(delta) * 7200 > static_cast<Int128>(max_power) * (r.time - prev->t) * 3) {
    // The same implausible reading again (a re-imported file) stays one held reading.
    auto& again = m_db.cached("SELECT id FROM held_readings WHERE meter_id = ?1 AND t = ?2 AND value = ?3");
    again.bind_all(m.id, r.time, r.value);
    if (again.step()) {
      res.held_id = again.get_int(0);
      again.reset();
      res.outcome = Outcome::duplicate;
      res.quantity = 0;
      res.note = fmt::format("meter {} at {}: held as reading {} already, skipped", m.name, format_time(r.time),
                                *res.held_id);
      return res;
    }
    again.reset();
    m_db.prepare("INSERT INTO held_readings(meter_id, t, value, sharp, peak, flat, valley, power, reason) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
        .bind_all(m.id, r.time, r.value, r.sharp, r.peak, r.flat, r.valley, r.power,
                  fmt::format("{} {} in {} s is more than {} W could draw", delta, unit_of(m.kind),
                              r.time - prev->t, max_power))
        .run();
    res.held_id = m_db.last_insert_rowid();
    write_event(m_db, r.time, "implausible", m.id, std::nullopt,
                fmt::format("meter {}: {} {} since {} is implausible; held as reading {}", m.name, delta,
                            unit_of(m.kind), format_time(prev->t), *res.held_id));
    res.events.push_back("implausible");
    res.outcome = Outcome::held;
    res.quantity = 0;
    res.note = fmt::format("meter {} at {}: implausible (+{} {}), held as reading {}", m.name, format_time(r.time),
                              delta, unit_of(m.kind), *res.held_id);
    return res;
  }
  store_reading(r, r.imported ? 1 : 0);
  res.outcome = Outcome::billed;
  bill_interval(m, *prev, r, assignments, res);
  return res;
}

void Biller::store_reading(const Reading& r, int flags) {
  readings::Reading stored{r.time, r.value, r.sharp, r.peak, r.flat, r.valley, r.power, flags};
  // Recent rows are written with the rest when the transaction commits, many a statement.
  if (m_blocks) m_blocks->add(r.meter_id, stored);
  else m_rows.emplace_back(r.meter_id, stored);
  m_stored = true;
  m_latest[r.meter_id] = Previous{r.time, r.value, r.sharp, r.peak, r.flat, r.valley};
}

void Biller::add_usage(UnixTime day, std::int64_t meter_id, std::int64_t account_id, std::int64_t quantity,
                       std::int64_t cost) {
  Usage& u = m_usage[{day, meter_id, account_id}];
  u.quantity += quantity;
  u.cost += cost;
}

void Biller::bill_interval(const Meter& m, const Previous& prev, const Reading& r,
                           const std::vector<Assignment>& assignments, IngestResult& res) {
  const Counters then{prev.t, prev.value, prev.sharp, prev.peak, prev.flat, prev.valley};
  const Counters now{r.time, r.value, r.sharp, r.peak, r.flat, r.valley};
  const UnixTime day = day_of(r.time);
  Known& k = m_known.at(m.id);
  share_interval(then, now, assignments, m_shares);
  for (const Share& p : m_shares) {
    if (p.account_id == 0) {
      if (p.quantity > 0) add_usage(day, m.id, 0, p.quantity, 0);
      continue;
    }
    AccountState& a = account(p.account_id);
    // A reading in a later day closes the meter's day for the account, whatever it charges.
    if (!k.group || k.group_account != p.account_id) {
      k.group = &group(p.account_id, m.id);
      k.group_account = p.account_id;
    }
    Group& g = *k.group;
    if (!g.bands.empty() && g.bands.front().acc.day != day) post(a, g);
    std::int64_t cost = charge_account(a, g, p.tariff_id, p.from, p.to, day, p.quantity, p.bands());
    res.charged += cost;
    if (!(k.usage && k.usage_epoch == m_usage_epoch && k.usage_day == day && k.usage_account == p.account_id)) {
      k.usage = &m_usage[{day, m.id, p.account_id}];
      k.usage_day = day, k.usage_account = p.account_id, k.usage_epoch = m_usage_epoch;
    }
    k.usage->quantity += p.quantity;
    k.usage->cost += cost;
    charge_standing_due(a, p.tariff_id, p.to, res);
    check_status(a, r.time, res);
  }
}

void Biller::charge_standing_due(AccountState& a, std::int64_t tariff_id, UnixTime until, IngestResult& res) {
  if (a.standing_known && until < a.standing_next) return;
  const TariffHistory& history = tariff(tariff_id);
  a.standing_known = true;
  if (!has_standing(history)) {
    a.standing_next = std::numeric_limits<UnixTime>::max();
    return;
  }
  write_account(a);
  // Its accumulators too: the entries charge_standing appends say what they hold.
  if (auto it = m_groups.lower_bound({a.id, 0}); it != m_groups.end())
    for (; it != m_groups.end() && it->first.first == a.id; ++it) write_group(it->second);
  std::int64_t charged = charge_standing(m_db, m_config, a.id, history, until, &m_head);
  res.charged += charged;
  if (charged) after_sql(a);
  a.standing_next = add_local_days(local_day_start(until), 1);
}

void Biller::check_status(AccountState& a, UnixTime event_time, IngestResult& res) {
  if (a.status == "closed") return;
  // [billing] emergency_credit_auto: update_status grants it (emergency_refusal's rules, cheaply).
  const bool grant = m_config.billing.emergency_credit_auto && a.emergency > 0 && a.emergency_owed == 0 &&
                     a.balance <= m_config.billing.emergency_offer_below.minor();
  if (!grant && a.checked &&
      compute_status(a.balance, a.alarm1, a.alarm2, a.credit_limit, a.emergency_owed) == a.status)
    return;
  write_account(a);
  if (grant) {
    // The grant is a ledger entry: it says what the account's accumulators hold.
    if (auto it = m_groups.lower_bound({a.id, 0}); it != m_groups.end())
      for (; it != m_groups.end() && it->first.first == a.id; ++it) write_group(it->second);
  }
  auto change = update_status(m_db, m_config, a.id, event_time, m_clock(), false);
  for (auto& e : change.events) res.events.push_back(e);
  for (auto c : change.commands) res.commands.push_back(c);
  a.status = change.after;
  a.checked = true;
  if (change.granted) {
    res.events.push_back("emergency_credit");
    m_head = {}; // appended behind the kept head
    after_sql(a);
  }
}

const TariffHistory& Biller::tariff(std::int64_t tariff_id) {
  // Kept until forget(): a new version is written by another connection (kwh tariff add).
  auto it = m_tariffs.find(tariff_id);
  if (it == m_tariffs.end())
    it = m_tariffs.emplace(tariff_id, TariffHistory(tariff_versions(m_db, tariff_id, m_config.minor_units))).first;
  return it->second;
}

std::int64_t Biller::charge_account(AccountState& a, Group& g, std::int64_t tariff_id, UnixTime t0, UnixTime t1,
                                    UnixTime day, std::int64_t quantity, const BandDeltas& band_deltas) {
  if (quantity <= 0) return 0;
  const TariffHistory& history = tariff(tariff_id);
  if (history.versions().empty()) fail(Exit::data, "tariff id {} has no versions", tariff_id);

  bool tiers = false;
  for (const auto& sv : history.versions()) tiers |= sv.version.kind == TariffKind::tiers;
  if (tiers) {
    const UnixTime month = local_month_start(t1);
    if (a.tier_month != month) {
      // What the account used so far this month: its posted charges and its accumulators.
      write_account(a);
      for (auto it = m_groups.lower_bound({a.id, 0}); it != m_groups.end() && it->first.first == a.id; ++it)
        write_group(it->second);
      auto& st = m_db.cached("SELECT (SELECT coalesce(sum(quantity), 0) FROM ledger WHERE account_id = ?1 AND kind = "
                             "'charge' AND time >= ?2 AND time < ?3) + (SELECT coalesce(sum(quantity), 0) FROM "
                             "accumulators WHERE account_id = ?1 AND day >= ?2 AND day < ?3)");
      st.bind_all(a.id, month, add_local_months(month, 1));
      st.step();
      a.tier_used = st.get_int(0);
      st.reset();
      a.tier_month = month;
    }
  }
  std::int64_t used = a.tier_used;
  m_priced.clear();
  price_share(history, t0, t1, quantity, band_deltas, used, m_priced);
  if (tiers) a.tier_used = used;

  std::int64_t total = 0;
  for (const Priced& p : m_priced) {
    Rounded rounded = round_charge(p.piece.price, p.piece.quantity, m_config.minor_units, a.carry);
    a.carry = rounded.carry;
    total += rounded.minor;
    // Into the day's accumulator of this band; an earlier day, or another version of the
    // tariff, is posted first.
    if (!g.bands.empty() && g.bands.front().acc.day != day) post(a, g);
    Open* open = nullptr;
    for (auto& o : g.bands)
      if (o.acc.band == p.piece.band) open = &o;
    if (open && open->acc.version_id != p.version->id) {
      post_one(a, *open);
      g.bands.erase(g.bands.begin() + (open - g.bands.data()));
      open = nullptr;
    }
    if (!open) {
      Open o;
      o.acc = ledger::Accumulator{a.id, g.meter_id, p.piece.band, day, p.version->id, p.from, p.to, 0, 0};
      g.bands.push_back(std::move(o));
      open = &g.bands.back();
    }
    open->acc.t1 = p.to;
    open->acc.quantity += p.piece.quantity;
    open->acc.amount += rounded.minor;
    open->dirty = true;
    g.dirty = true;
    a.accrued += rounded.minor;
  }
  if (total > 0 && a.balance < std::numeric_limits<std::int64_t>::min() + total)
    fail(Exit::data, "the balance would overflow");
  a.balance -= total;
  return total;
}

void Biller::relay_rules(const Meter& m, const Reading& r, IngestResult& res) {
  UnixTime now = m_clock();
  auto pending_off = [&] {
    auto& st = m_db.cached("SELECT 1 FROM commands WHERE meter_id = ?1 AND action = 'relay_off' AND state IN "
                           "('pending', 'running')");
    st.bind(1, m.id);
    bool found = st.step();
    st.reset();
    return found;
  };
  if (m.overload_w && r.power) {
    auto& active = m_db.cached("SELECT id FROM events WHERE meter_id = ?1 AND kind = 'overload' AND ended IS NULL");
    active.bind(1, m.id);
    std::optional<std::int64_t> active_id;
    if (active.step()) active_id = active.get_int(0);
    active.reset();
    if (*r.power > *m.overload_w) {
      if (!active_id) {
        write_event(m_db, r.time, "overload", m.id, std::nullopt,
                    fmt::format("meter {}: {} W is above its overload threshold of {} W", m.name, *r.power,
                                *m.overload_w));
        res.events.push_back("overload");
      }
      if (m_config.billing.overload_action == config::OverloadAction::trip && m.relay_mode != "protect" &&
          !pending_off()) {
        res.commands.push_back(queue_command(m_db, m.id, "relay_off", "overload", now, now));
        auto& st = m_db.cached("UPDATE meters SET relay_reason = 'overload' WHERE id = ?1");
        st.bind(1, m.id);
        st.run();
      }
    } else if (active_id) {
      auto& end = m_db.cached("UPDATE events SET ended = ?2 WHERE id = ?1");
      end.bind_all(*active_id, r.time);
      end.run();
    }
  }
  // Relay mode off: held open whatever the balance.
  if (m.relay_mode == "off" && m.relay_state != "off" && !pending_off())
    res.commands.push_back(queue_command(m_db, m.id, "relay_off", "operator", now, now));
}

IngestResult Biller::accept_held(std::int64_t held_id, const std::string& operator_name) {
  auto st = m_db.prepare("SELECT meter_id, t, value, sharp, peak, flat, valley, power, state FROM held_readings "
                         "WHERE id = ?1");
  st.bind(1, held_id);
  if (!st.step()) fail(Exit::no_input, "no such held reading: {}", held_id);
  if (st.get_text(8) != "held") fail(Exit::data, "reading {} was {} already", held_id, st.get_text(8));
  Reading r;
  r.meter_id = st.get_int(0);
  r.time = st.get_int(1);
  r.value = st.get_int(2);
  r.sharp = st.get_opt_int(3);
  r.peak = st.get_opt_int(4);
  r.flat = st.get_opt_int(5);
  r.valley = st.get_opt_int(6);
  r.power = st.get_opt_int(7);

  const Known& k = known(r.meter_id);
  const Meter& m = k.meter;
  const std::optional<Previous>& prev = *k.latest;
  if (prev && prev->t >= r.time)
    fail(Exit::data, "meter {} has a newer reading ({}) than held reading {} ({}); reject it instead", m.name,
         format_time(prev->t), held_id, format_time(r.time));
  IngestResult res = store_and_bill(m, r, prev, k.assignments, true);
  m_db.prepare("UPDATE held_readings SET state = 'accepted', decided = ?2, operator = ?3 WHERE id = ?1")
      .bind_all(held_id, m_clock(), operator_name)
      .run();
  m_db.prepare("UPDATE events SET ended = ?2 WHERE meter_id = ?1 AND kind = 'implausible' AND ended IS NULL AND "
               "detail LIKE ?3")
      .bind_all(r.meter_id, m_clock(), fmt::format("%held as reading {}", held_id))
      .run();
  settle();
  return res;
}

void Biller::reject_held(std::int64_t held_id, const std::string& operator_name) {
  auto st = m_db.prepare("SELECT meter_id, state FROM held_readings WHERE id = ?1");
  st.bind(1, held_id);
  if (!st.step()) fail(Exit::no_input, "no such held reading: {}", held_id);
  if (st.get_text(1) != "held") fail(Exit::data, "reading {} was {} already", held_id, st.get_text(1));
  std::int64_t meter_id = st.get_int(0);
  m_db.prepare("UPDATE held_readings SET state = 'rejected', decided = ?2, operator = ?3 WHERE id = ?1")
      .bind_all(held_id, m_clock(), operator_name)
      .run();
  m_db.prepare("UPDATE events SET ended = ?2 WHERE meter_id = ?1 AND kind = 'implausible' AND ended IS NULL AND "
               "detail LIKE ?3")
      .bind_all(meter_id, m_clock(), fmt::format("%held as reading {}", held_id))
      .run();
}

} // namespace kwh::billing
