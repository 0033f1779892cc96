#pragma once
// Accumulators: the open part of the ledger. Consumption is charged at every reading, but what
// the ledger stores is one charge entry per account, meter, band and site-local day. Until its
// day is over, that entry's running amount lives in an accumulator row, which is part of the
// balance (balance = sum of entries - open accumulators). Posting turns the row into the
// day's entry and removes it; the balance does not move.
//
// A row is posted when its day is over (billing does it at the first write after the day
// ended, or when the meter's next reading is in a later day), and whenever something needs the
// day closed early: the meter detached or replaced, the account closed, a new tariff version
// in force. One row per (account, meter, band) is open at a time.
//
// Each row carries a SHA-256 over its fields, so that an edit behind kwh's back is found like
// one in the ledger's chain; billing::verify_accumulators also checks its quantity against the
// readings it was built from.

#include <kwh/ledger/ledger.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kwh::storage {
class Database;
}

namespace kwh::ledger {

struct Accumulator {
  std::int64_t account_id = 0;
  std::int64_t meter_id = 0;
  std::string band;           // flat | sharp | peak | valley | tier1, tier2, ...
  UnixTime day = 0;           // UTC time of the site-local midnight starting the day
  std::int64_t version_id = 0; // the tariff version that priced it
  UnixTime t0 = 0;            // start of the first interval charged into it
  UnixTime t1 = 0;            // the last reading charged into it
  std::int64_t quantity = 0;  // Wh or litres
  std::int64_t amount = 0;    // minor units charged: a debit, >= 0
};

// SHA-256 (32 raw bytes) over a canonical serialisation of every field.
std::string accumulator_hash(const Accumulator& a);

// Writes (inserts or replaces) the row of a (account, meter, band), with its hash.
void save(storage::Database& db, const Accumulator& a);
// Removes it (after posting).
void remove(storage::Database& db, std::int64_t account_id, std::int64_t meter_id, const std::string& band);

// The open rows, all or of one account or meter, by account, meter and band.
std::vector<Accumulator> open_accumulators(storage::Database& db, std::optional<std::int64_t> account_id = {},
                                           std::optional<std::int64_t> meter_id = {});

// The charge entry an accumulator becomes: its amount as a debit, dated at its last reading.
// balance: the account's balance (unchanged by posting); accrued: what stays open after it.
Entry posting(const Accumulator& a, std::int64_t balance, std::int64_t accrued);

// Posts open rows in the caller's transaction, reading the balance from the database (for
// code that holds no billing state: detach, replace, close). Filters: an account, a meter, and
// only rows whose day starts before `day_before`. Returns how many were posted.
int post_open(storage::Database& db, std::optional<std::int64_t> account_id, std::optional<std::int64_t> meter_id,
              std::optional<UnixTime> day_before = {});

// Rows whose hash does not match their fields, one line each.
std::vector<std::string> verify_hashes(storage::Database& db);

} // namespace kwh::ledger
