#pragma once
// The ledger: the append-only list of every account's money movements. Each entry carries the
// account's balance after it and a SHA-256 hash over the previous entry's hash and a canonical
// serialisation of its own fields, so that an entry edited, removed or reordered behind kwh's
// back breaks the chain. One chain runs through the whole table in id order.
//
// Consumption is charged at every reading into an accumulator per account, meter, band and
// site-local day (the accumulators table, see accumulator.hpp), which is posted here as one
// charge entry when the day is over. So an account's balance is the sum of its entries less
// what its open accumulators hold; accounts.balance is a cache of that, and an entry's
// `accrued` says what was still open right after it (NULL: nothing), so that
//   balance after an entry = (sum of the account's entries up to it) - accrued.
// verify() proves both.

#include <kwh/util/time.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kwh::storage {
class Database;
}

namespace kwh::ledger {

struct Entry {
  std::int64_t id = 0; // set by append()
  std::int64_t account_id = 0;
  UnixTime time = 0;
  std::string kind; // sale, refund, charge, standing, adjustment, transfer, opening, emergency, debt
  std::int64_t amount = 0;  // signed minor units: + credit, - debit
  std::int64_t balance = 0; // after this entry; set by append()
  std::optional<std::int64_t> receipt;
  std::optional<std::string> method;
  std::optional<std::string> ref;
  std::optional<std::string> operator_name;
  std::optional<std::int64_t> meter_id;
  std::optional<std::int64_t> t0;
  std::optional<std::int64_t> t1;
  std::optional<std::int64_t> quantity; // Wh or litres
  std::optional<std::string> band;
  std::optional<std::int64_t> reverses;
  std::optional<std::string> note;
  std::string hash; // 32 raw bytes; set by append()
  // What the account's open accumulators held right after this entry (minor units, >= 0);
  // NULL when nothing was open, and for every entry written before accumulators existed.
  std::optional<std::int64_t> accrued;
  // A debt recovery (kind debt): the debt it reduces (debts.id).
  std::optional<std::int64_t> debt_id;
};

// The newest entry, which the next one chains onto. A caller appending many entries through
// one connection (billing) may keep it between appends, as long as nothing else appends
// meanwhile; when not known, append() reads it from the table.
struct Head {
  std::int64_t id = 0;
  std::string hash;
  bool known = false;
};

// Appends an entry in the caller's transaction: computes the balance after it from
// accounts.balance and what the account's accumulators hold, chains its hash, inserts it and
// updates accounts.balance. Throws Error(data) when the balance would overflow or the ref is
// taken, Error(no_input) for an unknown account. Returns the stored entry.
Entry append(storage::Database& db, Entry e, Head* head = nullptr);

// Chains and inserts an entry whose balance and accrued the caller has set, touching nothing
// else: for billing, which keeps the account's balance itself while a transaction is open.
Entry insert(storage::Database& db, Entry e, Head* head = nullptr);

// The entry with a --ref key, if any.
std::optional<Entry> find_by_ref(storage::Database& db, const std::string& ref);

// An account's entries in order (all of them, or those with time in [from, to)).
std::vector<Entry> entries(storage::Database& db, std::int64_t account_id, std::optional<UnixTime> from = {},
                           std::optional<UnixTime> to = {});

// The canonical serialisation the hash covers: every field but the hash, in a fixed order,
// each as "name=value" (NULL as "name=") joined by '\n'.
std::string canonical(const Entry& e);
// SHA-256 over the previous hash (32 raw bytes; empty for the first entry) and canonical(e).
std::string chain_hash(const std::string& previous_hash, const Entry& e);

// Checks the whole ledger; one line per finding, empty when clean: a broken hash chain (an
// entry edited, removed or reordered), a balance-after that does not follow from the entries
// before it and its accrued, an account whose cached balance differs from the sum of its
// entries less its open accumulators, a carry out of range, and a --ref used twice. `kwh
// check` prints these (and the accumulators' own checks, billing::verify_accumulators).
std::vector<std::string> verify(storage::Database& db);

} // namespace kwh::ledger
