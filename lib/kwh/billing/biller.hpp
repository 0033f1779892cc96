#pragma once
// The billing engine: takes one reading of a meter, stores it and charges the consumption since
// the meter's previous reading (docs/contract.md "Billing"). kwhd calls it for polled readings and
// `kwh reading import` for imported ones, so both bill alike.
//
//   storage::Transaction tx(db);          // the caller's transaction; batch as many as you like
//   billing::Biller biller(db, config);   // cheap; keep one per connection
//   for (const auto& r : readings) {
//     billing::IngestResult res = biller.ingest(r);
//     log(res.summary());                // one line: what happened
//   }
//   tx.commit();
//
// Everything a reading causes is written through the same connection inside that transaction:
// the reading, its charge into the day's accumulators (one per account, meter and band or tier
// piece; posted to the ledger as one entry when the day is over), the rounding carry, the
// daily_usage rollup, the account's status, events and relay commands. If the transaction is
// rolled back, none of it happened.
//
// Rules that docs/contract.md "Billing" and kwh-tariff(5) state:
// - Assignments: consumption over (t0, t1] is pro-rated by time between the accounts the meter
//   belonged to in that interval; the part outside any assignment, or of a closed account, is
//   nobody's (daily_usage with account 0, no charge).
// - Tariff versions: an interval that a new version starts inside is split there, pro rata by
//   time, and each part is priced by the version in force in it; times before a tariff's first
//   version use its first version.
// - Tiers: the month of a charge is the site-local month of t1; the account's consumption so
//   far in that month is the sum of its charge quantities with time (= t1) in the month, and
//   of its open accumulators of days in the month.
// - daily_usage and accumulators: the day is the site-local day of t1.
// - Implausible: Δ > max_power_w × (t1 − t0) / 3600 h × 1.5 (Wh; for water meters the same
//   numbers in litres). Held readings are evaluated against the stored baseline; accepting one
//   needs it to be newer than the meter's latest stored reading.

#include <kwh/billing/interval.hpp>
#include <kwh/billing/tariff.hpp>
#include <kwh/config/config.hpp>
#include <kwh/ledger/accumulator.hpp>
#include <kwh/ledger/ledger.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/util/time.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <kwh/readings/codec.hpp>

namespace kwh::readings {
class BlockWriter;
}

namespace kwh::billing {

// One reading of a meter, in canonical units.
struct Reading {
  std::int64_t meter_id = 0;  // meters.id
  UnixTime time = 0;
  std::int64_t value = 0;     // energy_total (Wh) or volume_total (litres)
  std::optional<std::int64_t> sharp, peak, flat, valley; // per-band registers (Wh), when read
  std::optional<std::int64_t> power;                     // power_total (W), when read
  bool imported = false;      // from `kwh reading import` (readings.flags bit 1)
};

enum class Outcome {
  baseline,      // the meter's first reading: stored, nothing to charge
  billed,        // stored and charged (the charge may be 0 when Δ is 0 or nobody's)
  duplicate,     // the same reading was stored already: skipped
  counter_reset, // Δ < 0: stored as the new baseline, event counter_reset, no charge
  held,          // implausible: held for `kwh reading accept|reject`, event implausible
};
const char* outcome_name(Outcome o);

struct IngestResult {
  Outcome outcome = Outcome::billed;
  std::int64_t quantity = 0;          // Δ (Wh or litres)
  std::int64_t charged = 0;           // minor units charged to accounts, in total
  std::vector<std::string> events;    // kinds of events written
  std::vector<std::int64_t> commands; // ids of relay commands queued
  std::optional<std::int64_t> held_id;

  // One line for the log: what happened. A plain charge is formatted only when asked for, as
  // kwhd logs none of the thousands a cycle brings; the rarer outcomes keep their line in note.
  std::string summary() const;
  std::string note;
  std::string meter;    // the meter's name
  UnixTime time = 0;    // the reading's
  const char* unit = "Wh";
  int minor_units = 2;
};

// A Biller remembers, per meter, what every reading needs (the meter's row, its latest reading,
// its assignments), and per account its balance, rounding carry, status and open accumulators,
// so that a plain reading costs one statement (storing it). What a reading changes in money
// (the balance, the carry, the accumulators, the daily rollup) is kept in memory and written
// when the transaction commits, or before a savepoint starts (storage::Deferred): the caller's
// Transaction does it, and a rollback drops it. An account whose status changes, or whose
// standing charge falls due, is written at once, since that work reads it from the database.
//
// What it remembers is checked before each reading: anything another connection committed
// (PRAGMA data_version), any rollback on this connection, and any row changed through this
// connection other than by the Biller itself (sqlite3_total_changes) make it forget it all. A
// caller that writes through the connection something billing never reads (kwhd's meter status
// and events) does it through outside_billing(), which keeps what is known.
//
// Accumulators are posted to the ledger (ledger/accumulator.hpp) when the meter's next reading
// falls in a later day, when a new tariff version prices a band, and by post_days_over() for
// each day that has been over for k_day_grace (so that the readings of a poll cycle that spans
// midnight still land in their day). A row written back is checked against what was read (a
// compare-and-set), so that two writers of one account's accumulators fail rather than charge
// twice.
class Biller final : public storage::Deferred {
public:
  static constexpr UnixTime k_day_grace = 60;

  Biller(storage::Database& db, const config::Config& config);
  ~Biller();
  Biller(const Biller&) = delete;
  Biller& operator=(const Biller&) = delete;

  // Stores and bills one reading in the caller's open transaction. Throws Error(data) for a
  // reading older than the meter's latest, or with a different value at the same time;
  // Error(no_input) for an unknown meter.
  IngestResult ingest(const Reading& r);

  // `kwh reading accept ID`: bills a held reading as if it had just arrived (charge and new
  // baseline). `reject`: discards it; the baseline stays. Caller's transaction. Exit::no_input
  // for an unknown id, Exit::data when it was decided already (or, for accept, when the meter
  // has newer readings).
  IngestResult accept_held(std::int64_t held_id, const std::string& operator_name);
  void reject_held(std::int64_t held_id, const std::string& operator_name);

  // When commands are created and which days are over (default: the wall clock). Tests set a
  // fixed clock.
  void set_clock(std::function<UnixTime()> clock) { m_clock = std::move(clock); }

  // Stores the readings it bills into blocks through `blocks` (kwh reading import) instead of
  // as recent rows (readings/store.hpp).
  void store_into(readings::BlockWriter* blocks) { m_blocks = blocks; }

  // Runs `write`, which changes nothing billing reads (see above), keeping what is known.
  void outside_billing(const std::function<void()>& write);
  // Drops what is known; the next reading reads it again. Pending writes are dropped too.
  void forget();

  // Posts every accumulator (of any account) whose day has been over for k_day_grace, in the
  // caller's transaction. kwhd calls it with each write, `kwh reading import` at its end.
  // Returns how many were posted.
  int post_days_over();

  // storage::Deferred: writes the pending balances, carries, accumulators and rollups;
  // discard() forgets them (they were rolled back).
  void flush() override;
  void discard() override { forget(); }

private:
  struct Meter;
  struct Previous;
  using Assignment = Span;
  struct Known;
  struct AccountState;
  struct Open;
  struct Group;
  struct Usage;
  void sync();
  void settle(); // the Biller's own changes are known
  void forget_known(); // all but the latest readings
  Known& known(std::int64_t meter_id);
  Meter load_meter(std::int64_t meter_id);
  std::optional<Previous> load_latest(std::int64_t meter_id);
  std::vector<Assignment> load_assignments(std::int64_t meter_id);
  AccountState& account(std::int64_t account_id);
  Group& group(std::int64_t account_id, std::int64_t meter_id);
  void post(AccountState& a, Group& g);
  void post_one(AccountState& a, Open& o);
  void write_group(Group& g);
  void write_pending();
  void write_account(AccountState& a);
  void after_sql(AccountState& a);
  void check_status(AccountState& a, UnixTime event_time, IngestResult& res);
  void charge_standing_due(AccountState& a, std::int64_t tariff_id, UnixTime until, IngestResult& res);
  UnixTime day_of(UnixTime t);
  // The meter and its previous reading by value: storing the reading updates what is known.
  IngestResult store_and_bill(Meter m, const Reading& r, std::optional<Previous> prev,
                              const std::vector<Assignment>& assignments, bool force);
  void bill_interval(const Meter& m, const Previous& prev, const Reading& r,
                     const std::vector<Assignment>& assignments, IngestResult& res);
  std::int64_t charge_account(AccountState& a, Group& g, std::int64_t tariff_id, UnixTime t0, UnixTime t1,
                              UnixTime day, std::int64_t quantity, const BandDeltas& band_deltas);
  void store_reading(const Reading& r, int flags);
  void add_usage(UnixTime day, std::int64_t meter_id, std::int64_t account_id, std::int64_t quantity,
                 std::int64_t cost);
  void relay_rules(const Meter& m, const Reading& r, IngestResult& res);
  const TariffHistory& tariff(std::int64_t tariff_id);
  bool pending() const;

  storage::Database& m_db;
  const config::Config& m_config;
  std::function<UnixTime()> m_clock;
  std::map<std::int64_t, TariffHistory> m_tariffs;
  std::unordered_map<std::int64_t, Known> m_known;
  std::unordered_map<std::int64_t, std::optional<Previous>> m_latest; // by meter
  std::int64_t m_generation = -1; // of the readings (sequences 'readings') when m_latest was right
  bool m_stored = false;          // readings stored since the last write_pending
  readings::BlockWriter* m_blocks = nullptr;
  std::vector<std::pair<std::int64_t, readings::Reading>> m_rows; // stored, to write
  std::unordered_map<std::int64_t, AccountState> m_accounts;
  std::map<std::pair<std::int64_t, std::int64_t>, Group> m_groups; // (account, meter)
  std::map<std::tuple<UnixTime, std::int64_t, std::int64_t>, Usage> m_usage; // (day, meter, account): to add
  ledger::Head m_head;
  std::vector<Priced> m_priced; // reused: the pieces of the share being charged
  std::vector<Share> m_shares;  // reused: the shares of the interval being billed
  std::uint64_t m_usage_epoch = 0; // bumped whenever m_usage is emptied
  UnixTime m_day_start = 1, m_day_end = 0; // the last site-local day computed
  std::int64_t m_data_version = -1;
  std::uint64_t m_seen_transactions = 0, m_seen_rollbacks = 0;
  std::int64_t m_seen_changes = -1;
};

} // namespace kwh::billing
