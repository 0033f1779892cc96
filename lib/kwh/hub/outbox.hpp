#pragma once
// The site's outbox (schema 12, lib/kwh/storage/schema.cpp): rows that triggers add in the
// transaction that writes each ledger entry, event, day of usage and account change, numbered
// by `seq`. This is what the pusher reads and what it records in `settings`:
//
//   hub.site_epoch  the database's epoch: 32 hex digits made with the outbox
//   hub.claimed     rows up to this seq are taken by the pusher and no longer change (the
//                   triggers fold a later change of the same day or account into a row above it)
//   hub.pushed      rows up to this seq are committed at the hub
//   hub.last_push, hub.last_error, hub.last_error_time, hub.alarm (pushes stopped, and why)
//   hub.previous_epoch the epoch before the last kwh hub reset-epoch (reset_epoch())
//   hub.usage_every [hub] usage_every in seconds, which the triggers of days of usage (schema 13)
//                   and of balances (schema 14) read
//   hub.usage_swept marks of days of usage and accounts up to this seq are compared by sweep_marks()

#include <kwh/storage/database.hpp>
#include <kwh/util/time.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kwh::hub {

struct OutboxRow {
  std::int64_t seq = 0;
  std::string kind; // ledger, event, daily_usage, account
  std::string key;
  std::string payload; // a JSON object
  std::int64_t time = 0;
  std::string hash; // row_hash(), hex; filled by rows()
};

// SHA-256 (hex) of site_id|epoch|seq|kind|payload: what the hub compares when a row comes again.
std::string row_hash(std::string_view site_id, std::string_view epoch, std::int64_t seq, std::string_view kind,
                     std::string_view payload);

// What `kwh hub status` shows, read from the site's database alone.
struct OutboxState {
  std::string epoch;
  std::int64_t claimed = 0, pushed = 0;
  std::int64_t max_seq = 0; // the highest seq ever given (rows pushed and pruned included)
  std::int64_t waiting = 0; // rows after hub.pushed
  std::optional<std::int64_t> oldest_waiting; // the time of the first of them
  std::optional<std::int64_t> last_push;
  std::optional<std::string> last_error;
  std::optional<std::int64_t> last_error_time;
  std::optional<std::string> alarm;
  std::optional<std::string> previous_epoch; // the epoch before kwh hub reset-epoch
};
OutboxState read_state(storage::Database& db);

// In the caller's write transaction: marks the rows after `after`, up to `batch` of them, as
// taken (hub.claimed), so that the triggers no longer change them. Returns the last seq taken,
// or `after` when there is none.
std::int64_t claim(storage::Database& db, std::int64_t after, int batch);
// In the caller's write transaction: [hub] usage_every for the triggers (written when it differs).
void set_usage_every(storage::Database& db, std::chrono::seconds every);
// Whether sweep_marks() has marks to look at: taken ones that became older than `every`.
bool sweep_due(storage::Database& db, UnixTime now, std::chrono::seconds every);
// In the caller's write transaction: the day of usage or the account's balance that changed
// after its last mark was taken and got no mark of its own (the last was younger than
// usage_every) gets one now. Each taken mark older than `every` is looked at once, in seq order
// (hub.usage_swept): when it is still its key's newest and the row differs from what it carried
// (a day's quantity or cost, an account's balance), a new mark follows it. With the triggers,
// every change of a day or a balance is on the hub at most `every` after it. Returns marks added.
std::int64_t sweep_marks(storage::Database& db, UnixTime now, std::chrono::seconds every);

// kwh hub reset-epoch, in the caller's write transaction: the database starts a new epoch (a
// restored copy whose old epoch the hub refuses): the outbox is emptied and numbered from 1
// again, then holds a mark for every account, ledger entry and day of usage in the database
// (events are not sent again), and the push state starts over (hub.claimed, hub.pushed, the
// alarm and errors cleared). hub.previous_epoch keeps the old epoch: the pusher shows it to the
// hub, which moves the rows it holds of that epoch aside (hub_new_epoch, hub schema 4).
struct EpochReset {
  std::string previous, epoch;
  std::int64_t rows = 0; // marks in the new outbox
};
EpochReset reset_epoch(storage::Database& db, UnixTime now);

// The database's epoch now (hub.site_epoch).
std::string site_epoch(storage::Database& db);

// The rows in (after, upto], in order, each with its hash; none when the database no longer
// has `epoch` (kwh hub reset-epoch since), read in the same statement.
std::vector<OutboxRow> rows(storage::Database& db, std::int64_t after, std::int64_t upto, std::string_view site_id,
                            std::string_view epoch);
// The row at `seq` with its hash, when the site still has it.
std::optional<OutboxRow> row_at(storage::Database& db, std::int64_t seq, std::string_view site_id,
                                std::string_view epoch);

// In the caller's write transaction: rows up to `seq` are at the hub. Rows pushed more than
// `keep` ago are removed (the newest pushed row stays, for the next start's comparison).
void record_pushed(storage::Database& db, std::int64_t seq, UnixTime t, std::chrono::seconds keep);
void record_error(storage::Database& db, const std::string& what, UnixTime t);
void record_alarm(storage::Database& db, const std::string& what, UnixTime t);

} // namespace kwh::hub
