#include <kwh/billing/biller.hpp>

#include <kwh/billing/charge.hpp>
#include <kwh/billing/standing.hpp>
#include <kwh/billing/status.hpp>
#include <kwh/ledger/ledger.hpp>
#include <kwh/storage/database.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace kwh::billing {

struct Biller::Meter {
  std::int64_t id = 0;
  std::string name, kind, relay_mode, relay_state;
  std::optional<std::string> relay_reason;
  std::optional<std::int64_t> overload_w, max_power_w;
};

struct Biller::Previous {
  UnixTime t = 0;
  std::int64_t value = 0;
  std::optional<std::int64_t> sharp, peak, flat, valley;
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

namespace {

std::string unit_of(const std::string& kind) { return kind == "water" ? "L" : "Wh"; }

} // namespace

IngestResult Biller::ingest(const Reading& r) {
  auto& ms = m_db.cached("SELECT id, name, kind, relay_mode, relay_state, relay_reason, overload_w, max_power_w "
                         "FROM meters WHERE id = ?1");
  ms.bind(1, r.meter_id);
  if (!ms.step()) fail(Exit::no_input, "no such meter id {}", r.meter_id);
  Meter m{ms.get_int(0),      ms.get_text(1),     ms.get_text(2),    ms.get_text(3),
          ms.get_text(4),     ms.get_opt_text(5), ms.get_opt_int(6), ms.get_opt_int(7)};
  ms.reset();
  if (r.value < 0) fail(Exit::data, "meter {}: a negative counter value ({})", m.name, r.value);

  std::optional<Previous> prev;
  auto& ps = m_db.cached("SELECT t, value, sharp, peak, flat, valley FROM readings WHERE meter_id = ?1 "
                         "ORDER BY t DESC LIMIT 1");
  ps.bind(1, r.meter_id);
  if (ps.step())
    prev = Previous{ps.get_int(0), ps.get_int(1), ps.get_opt_int(2), ps.get_opt_int(3), ps.get_opt_int(4),
                    ps.get_opt_int(5)};
  ps.reset();
  if (prev && r.time == prev->t) {
    if (r.value != prev->value)
      fail(Exit::data, "meter {} already has a reading at {} with a different value ({} vs {})", m.name,
           format_time(r.time), prev->value, r.value);
    IngestResult res;
    res.outcome = Outcome::duplicate;
    res.summary = fmt::format("meter {} at {}: the same reading again, skipped", m.name, format_time(r.time));
    return res;
  }
  if (prev && r.time < prev->t)
    fail(Exit::data, "meter {}: reading at {} is older than its latest reading ({})", m.name, format_time(r.time),
         format_time(prev->t));
  return store_and_bill(m, r, prev, false);
}

IngestResult Biller::store_and_bill(const Meter& m, const Reading& r, const std::optional<Previous>& prev,
                                    bool force) {
  IngestResult res;
  relay_rules(m, r, res);
  if (!prev) {
    store_reading(r, r.imported ? 1 : 0);
    res.outcome = Outcome::baseline;
    res.summary = fmt::format("meter {} at {}: first reading {} {}, the baseline", m.name, format_time(r.time),
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
    res.summary = fmt::format("meter {} at {}: counter reset ({} -> {}), new baseline, no charge", m.name,
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
      res.summary = fmt::format("meter {} at {}: held as reading {} already, skipped", m.name, format_time(r.time),
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
    res.summary = fmt::format("meter {} at {}: implausible (+{} {}), held as reading {}", m.name, format_time(r.time),
                              delta, unit_of(m.kind), *res.held_id);
    return res;
  }
  store_reading(r, r.imported ? 1 : 0);
  res.outcome = Outcome::billed;
  bill_interval(m, *prev, r, res);
  res.summary = fmt::format("meter {} at {}: +{} {}, charged {}", m.name, format_time(r.time), delta,
                            unit_of(m.kind), Money::from_minor(res.charged).format(m_config.minor_units));
  return res;
}

void Biller::store_reading(const Reading& r, int flags) {
  auto& st = m_db.cached("INSERT INTO readings(meter_id, t, value, sharp, peak, flat, valley, power, flags) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  st.bind_all(r.meter_id, r.time, r.value, r.sharp, r.peak, r.flat, r.valley, r.power, flags);
  st.run();
}

void Biller::add_usage(UnixTime t1, std::int64_t meter_id, std::int64_t account_id, std::int64_t quantity,
                       std::int64_t cost) {
  auto& st = m_db.cached("INSERT INTO daily_usage(day, meter_id, account_id, quantity, cost) VALUES (?1, ?2, ?3, ?4, ?5) "
                         "ON CONFLICT(day, meter_id, account_id) DO UPDATE SET quantity = quantity + excluded.quantity, "
                         "cost = cost + excluded.cost");
  st.bind_all(local_day_start(t1), meter_id, account_id, quantity, cost);
  st.run();
}

void Biller::bill_interval(const Meter& m, const Previous& prev, const Reading& r, IngestResult& res) {
  const UnixTime t0 = prev.t, t1 = r.time;
  const std::int64_t delta = r.value - prev.value;
  struct Part {
    std::int64_t account_id = 0; // 0: nobody's
    std::int64_t tariff_id = 0;
    UnixTime from = 0, to = 0;
  };
  std::vector<Part> parts;
  auto& as = m_db.cached("SELECT s.account_id, a.tariff_id, s.valid_from, s.valid_to, a.status FROM assignments s "
                         "JOIN accounts a ON a.id = s.account_id WHERE s.meter_id = ?1 AND s.valid_from < ?3 AND "
                         "(s.valid_to IS NULL OR s.valid_to > ?2) ORDER BY s.valid_from");
  as.bind_all(m.id, t0, t1);
  std::int64_t covered = 0;
  while (as.step()) {
    UnixTime from = std::max(t0, as.get_int(2));
    UnixTime to = as.is_null(3) ? t1 : std::min(t1, as.get_int(3));
    if (to <= from) continue;
    covered += to - from;
    // A closed account is not charged for what a late reading reveals: that part is nobody's.
    std::int64_t account = as.get_text(4) == "closed" ? 0 : as.get_int(0);
    parts.push_back({account, as.get_int(1), from, to});
  }
  as.reset();
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
    std::int64_t standing = charge_standing(m_db, m_config, p.account_id, tariff(p.tariff_id), p.to);
    res.charged += standing;
    auto change = update_status(m_db, m_config, p.account_id, t1, m_clock(), false);
    for (auto& e : change.events) res.events.push_back(e);
    for (auto c : change.commands) res.commands.push_back(c);
  }
}

const TariffHistory& Biller::tariff(std::int64_t tariff_id) {
  auto& st = m_db.cached("SELECT max(id) FROM tariff_versions WHERE tariff_id = ?1");
  st.bind(1, tariff_id);
  st.step();
  std::int64_t max_id = st.get_opt_int(0).value_or(0);
  st.reset();
  auto& cached = m_tariffs[tariff_id];
  if (cached.max_version_id != max_id) {
    cached.history = TariffHistory(tariff_versions(m_db, tariff_id, m_config.minor_units));
    cached.max_version_id = max_id;
  }
  return cached.history;
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

  auto& cs = m_db.cached("SELECT carry FROM accounts WHERE id = ?1");
  cs.bind(1, account_id);
  cs.step();
  std::int64_t carry = cs.get_int(0);
  cs.reset();
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
      ledger::append(m_db, std::move(e));
      total += rounded.minor;
      used += piece.quantity;
    }
  }
  auto& us = m_db.cached("UPDATE accounts SET carry = ?2 WHERE id = ?1");
  us.bind_all(account_id, carry);
  us.run();
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

  auto ms = m_db.prepare("SELECT id, name, kind, relay_mode, relay_state, relay_reason, overload_w, max_power_w "
                         "FROM meters WHERE id = ?1");
  ms.bind(1, r.meter_id);
  ms.step();
  Meter m{ms.get_int(0),      ms.get_text(1),     ms.get_text(2),    ms.get_text(3),
          ms.get_text(4),     ms.get_opt_text(5), ms.get_opt_int(6), ms.get_opt_int(7)};
  std::optional<Previous> prev;
  auto ps = m_db.prepare("SELECT t, value, sharp, peak, flat, valley FROM readings WHERE meter_id = ?1 "
                         "ORDER BY t DESC LIMIT 1");
  ps.bind(1, r.meter_id);
  if (ps.step())
    prev = Previous{ps.get_int(0), ps.get_int(1), ps.get_opt_int(2), ps.get_opt_int(3), ps.get_opt_int(4),
                    ps.get_opt_int(5)};
  if (prev && prev->t >= r.time)
    fail(Exit::data, "meter {} has a newer reading ({}) than held reading {} ({}); reject it instead", m.name,
         format_time(prev->t), held_id, format_time(r.time));
  IngestResult res = store_and_bill(m, r, prev, true);
  m_db.prepare("UPDATE held_readings SET state = 'accepted', decided = ?2, operator = ?3 WHERE id = ?1")
      .bind_all(held_id, m_clock(), operator_name)
      .run();
  m_db.prepare("UPDATE events SET ended = ?2 WHERE meter_id = ?1 AND kind = 'implausible' AND ended IS NULL AND "
               "detail LIKE ?3")
      .bind_all(r.meter_id, m_clock(), fmt::format("%held as reading {}", held_id))
      .run();
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
