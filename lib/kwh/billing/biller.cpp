#include <kwh/billing/biller.hpp>

#include <kwh/billing/charge.hpp>
#include <kwh/billing/standing.hpp>
#include <kwh/billing/status.hpp>
#include <kwh/ledger/ledger.hpp>
#include <kwh/storage/database.hpp>

#include <sqlite3.h>

#include <fmt/format.h>

#include <algorithm>

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

struct Biller::Assignment {
  std::int64_t account_id = 0; // 0 when the account is closed: what falls in it is nobody's
  std::int64_t tariff_id = 0;
  UnixTime from = 0;
  std::optional<UnixTime> to;
};

struct Biller::Known {
  Meter meter;
  std::optional<Previous> latest;
  std::vector<Assignment> assignments; // every one the meter had, by valid_from
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
    : m_db(db), m_config(config), m_clock([] { return kwh::now(); }) {}

Biller::~Biller() = default;

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
  std::optional<Previous> prev;
  auto& ps = m_db.cached("SELECT t, value, sharp, peak, flat, valley FROM readings WHERE meter_id = ?1 "
                         "ORDER BY t DESC LIMIT 1");
  ps.bind(1, meter_id);
  if (ps.step())
    prev = Previous{ps.get_int(0), ps.get_int(1), ps.get_opt_int(2), ps.get_opt_int(3), ps.get_opt_int(4),
                    ps.get_opt_int(5)};
  ps.reset();
  return prev;
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
  bool stale = m_db.rollbacks() != m_seen_rollbacks || m_db.total_changes() != m_seen_changes;
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
  if (stale) forget();
  m_seen_rollbacks = m_db.rollbacks();
  m_seen_changes = m_db.total_changes();
}

void Biller::forget() {
  m_known.clear();
  m_tariffs.clear();
  m_carry.clear();
  m_head = {};
}

void Biller::settle() { m_seen_changes = m_db.total_changes(); }

void Biller::outside_billing(const std::function<void()>& write) {
  const bool in_step = m_db.total_changes() == m_seen_changes && m_db.rollbacks() == m_seen_rollbacks;
  write();
  if (in_step) settle();
}

Biller::Known& Biller::known(std::int64_t meter_id) {
  sync();
  auto it = m_known.find(meter_id);
  if (it == m_known.end())
    it = m_known.emplace(meter_id, Known{load_meter(meter_id), load_latest(meter_id), load_assignments(meter_id)}).first;
  return it->second;
}

IngestResult Biller::ingest(const Reading& r) {
  const Known& k = known(r.meter_id);
  const Meter& m = k.meter;
  if (r.value < 0) fail(Exit::data, "meter {}: a negative counter value ({})", m.name, r.value);
  const std::optional<Previous>& prev = k.latest;
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
  auto& st = m_db.cached("INSERT INTO readings(meter_id, t, value, sharp, peak, flat, valley, power, flags) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  st.bind_all(r.meter_id, r.time, r.value, r.sharp, r.peak, r.flat, r.valley, r.power, flags);
  st.run();
  if (auto it = m_known.find(r.meter_id); it != m_known.end())
    it->second.latest = Previous{r.time, r.value, r.sharp, r.peak, r.flat, r.valley};
}

void Biller::add_usage(UnixTime t1, std::int64_t meter_id, std::int64_t account_id, std::int64_t quantity,
                       std::int64_t cost) {
  auto& st = m_db.cached("INSERT INTO daily_usage(day, meter_id, account_id, quantity, cost) VALUES (?1, ?2, ?3, ?4, ?5) "
                         "ON CONFLICT(day, meter_id, account_id) DO UPDATE SET quantity = quantity + excluded.quantity, "
                         "cost = cost + excluded.cost");
  st.bind_all(local_day_start(t1), meter_id, account_id, quantity, cost);
  st.run();
}

void Biller::bill_interval(const Meter& m, const Previous& prev, const Reading& r,
                           const std::vector<Assignment>& assignments, IngestResult& res) {
  const UnixTime t0 = prev.t, t1 = r.time;
  const std::int64_t delta = r.value - prev.value;
  struct Part {
    std::int64_t account_id = 0; // 0: nobody's
    std::int64_t tariff_id = 0;
    UnixTime from = 0, to = 0;
  };
  std::vector<Part> parts;
  std::int64_t covered = 0;
  for (const auto& a : assignments) {
    if (a.from >= t1 || (a.to && *a.to <= t0)) continue;
    UnixTime from = std::max(t0, a.from);
    UnixTime to = a.to ? std::min(t1, *a.to) : t1;
    if (to <= from) continue;
    covered += to - from;
    // A closed account is not charged for what a late reading reveals: that part is nobody's.
    parts.push_back({a.account_id, a.tariff_id, from, to});
  }
  if (covered < t1 - t0) parts.push_back({0, 0, t0, t0 + (t1 - t0 - covered)});

  std::vector<std::int64_t> weights;
  for (const auto& p : parts) weights.push_back(p.to - p.from);
  std::vector<std::int64_t> quantities = split_proportional(delta, weights);

  // Per-band register deltas, when both readings have them and none went backwards.
  std::vector<std::pair<std::string, std::int64_t>> band_deltas;
  {
    const std::optional<std::int64_t> now_regs[] = {r.sharp, r.peak, r.flat, r.valley};
    const std::optional<std::int64_t> then_regs[] = {prev.sharp, prev.peak, prev.flat, prev.valley};
    bool usable = false, broken = false;
    for (int i = 0; i < 4; ++i) {
      if (now_regs[i].has_value() != then_regs[i].has_value()) broken = true;
      if (now_regs[i] && then_regs[i]) {
        std::int64_t d = *now_regs[i] - *then_regs[i];
        if (d < 0) broken = true;
        band_deltas.push_back({k_bands[static_cast<std::size_t>(i)], d});
        usable = true;
      }
    }
    if (!usable || broken) band_deltas.clear();
  }

  for (std::size_t i = 0; i < parts.size(); ++i) {
    const Part& p = parts[i];
    std::int64_t q = quantities[i];
    if (p.account_id == 0) {
      if (q > 0) add_usage(t1, m.id, 0, q, 0);
      continue;
    }
    // Band registers are shared out between accounts like the total.
    std::vector<std::pair<std::string, std::int64_t>> bands;
    if (!band_deltas.empty()) {
      for (const auto& [band, d] : band_deltas) {
        auto share = split_proportional(d, weights);
        bands.push_back({band, share[i]});
      }
    }
    std::int64_t cost = charge_account(p.account_id, p.tariff_id, m, p.from, p.to, q, bands);
    res.charged += cost;
    add_usage(t1, m.id, p.account_id, q, cost);
    std::int64_t standing = charge_standing(m_db, m_config, p.account_id, tariff(p.tariff_id), p.to, &m_head);
    res.charged += standing;
    auto change = update_status(m_db, m_config, p.account_id, t1, m_clock(), false);
    for (auto& e : change.events) res.events.push_back(e);
    for (auto c : change.commands) res.commands.push_back(c);
  }
}

const TariffHistory& Biller::tariff(std::int64_t tariff_id) {
  // Kept until forget(): a new version is written by another connection (kwh tariff add).
  auto it = m_tariffs.find(tariff_id);
  if (it == m_tariffs.end())
    it = m_tariffs.emplace(tariff_id, TariffHistory(tariff_versions(m_db, tariff_id, m_config.minor_units))).first;
  return it->second;
}

std::int64_t Biller::charge_account(std::int64_t account_id, std::int64_t tariff_id, const Meter& m, UnixTime t0,
                                    UnixTime t1, std::int64_t quantity,
                                    const std::vector<std::pair<std::string, std::int64_t>>& band_deltas) {
  if (quantity <= 0) return 0;
  const TariffHistory& history = tariff(tariff_id);
  if (history.versions().empty()) fail(Exit::data, "tariff id {} has no versions", tariff_id);
  // The version in force from time a on; before the first version, the first one.
  auto version_from = [&](UnixTime a) {
    const TariffVersion* v = history.at(a);
    return v ? v : &history.versions().front().version;
  };

  // A new version that starts inside (t0, t1] splits the interval; each part is priced by
  // the version in force in it, its quantity pro rata by time.
  std::vector<UnixTime> cuts{t0};
  for (const auto& sv : history.versions())
    if (sv.version.effective > t0 && sv.version.effective < t1) cuts.push_back(sv.version.effective);
  cuts.push_back(t1);
  std::vector<std::int64_t> weights;
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) weights.push_back(cuts[i + 1] - cuts[i]);
  std::vector<std::int64_t> quantities = split_proportional(quantity, weights);
  std::vector<std::vector<std::int64_t>> band_shares;
  for (const auto& bd : band_deltas) band_shares.push_back(split_proportional(bd.second, weights));

  std::int64_t used = 0;
  bool tiers = false;
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) tiers |= version_from(cuts[i])->kind == TariffKind::tiers;
  if (tiers) {
    auto& st = m_db.cached("SELECT coalesce(sum(quantity), 0) FROM ledger WHERE account_id = ?1 AND kind = 'charge' "
                           "AND time >= ?2 AND time < ?3");
    UnixTime month = local_month_start(t1);
    st.bind_all(account_id, month, add_local_months(month, 1));
    st.step();
    used = st.get_int(0);
    st.reset();
  }

  auto known_carry = m_carry.find(account_id);
  if (known_carry == m_carry.end()) {
    auto& cs = m_db.cached("SELECT carry FROM accounts WHERE id = ?1");
    cs.bind(1, account_id);
    cs.step();
    known_carry = m_carry.emplace(account_id, cs.get_int(0)).first;
    cs.reset();
  }
  std::int64_t carry = known_carry->second;
  std::int64_t total = 0;
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
    std::vector<std::pair<std::string, std::int64_t>> bands;
    for (std::size_t b = 0; b < band_deltas.size(); ++b) bands.push_back({band_deltas[b].first, band_shares[b][i]});
    auto pieces = price_pieces(*version_from(cuts[i]), quantities[i], cuts[i], cuts[i + 1], bands, used);
    for (const auto& piece : pieces) {
      Rounded rounded = round_charge(piece.price, piece.quantity, m_config.minor_units, carry);
      carry = rounded.carry;
      ledger::Entry e;
      e.account_id = account_id;
      e.time = t1;
      e.kind = "charge";
      e.amount = -rounded.minor;
      e.meter_id = m.id;
      e.t0 = cuts[i];
      e.t1 = cuts[i + 1];
      e.quantity = piece.quantity;
      e.band = piece.band;
      ledger::append(m_db, std::move(e), &m_head);
      total += rounded.minor;
      used += piece.quantity;
    }
  }
  auto& us = m_db.cached("UPDATE accounts SET carry = ?2 WHERE id = ?1");
  us.bind_all(account_id, carry);
  us.run();
  known_carry->second = carry;
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
  const std::optional<Previous>& prev = k.latest;
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
