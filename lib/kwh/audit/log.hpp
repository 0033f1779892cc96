#pragma once
// The audit log: every change to the site's database, with who made it, when, what and the
// command line, in an append-only, hash-chained table (kwh-log(1)).
//
// Each entry's hash is SHA-256 over the previous entry's hash (32 zero bytes for the first)
// followed by a canonical serialisation of the entry's own fields, id included (see
// canonical()). verify() recomputes the chain.
//
// What the chain protects against, and what it does not (also for kwh-log(1)):
// Someone who opens the database with sqlite3 and edits, deletes or reorders audit rows (after
// dropping the append-only triggers) breaks the chain at that point, and `kwh log --verify` and
// `kwh check` report the entry. The chain holds no secret, though: someone who understands it
// can recompute every hash from the altered row to the end, or delete the newest entries, or
// replace the whole file with another one, and the chain alone cannot tell. What closes that gap
// is an anchor kept outside the database: `kwh log --head` prints the id and hash of the newest
// entry; written down daily somewhere the site keeps apart (a printed log, another machine, an
// e-mail), it lets `kwh log --verify --expect-head HASH` prove that every entry up to that
// point is unchanged. Changes after the last anchor remain only as safe as the file's
// permissions make them.

#include <kwh/storage/database.hpp>
#include <kwh/util/time.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kwh::audit {

struct Entry {
  UnixTime time = 0;                  // 0: now()
  std::string operator_name;          // a login name, or "kwhd" for the daemon
  std::string action;                 // the command path ("sell", "relay off") or a daemon action
  std::optional<std::string> subject; // what it was done to: "A1", "M7 M8", an operator name
  std::optional<std::string> command; // the command line as typed, when there was one
  std::optional<std::string> detail;  // anything else worth keeping, free text
};

// The command line as the audit keeps it: the program by its name ("kwh", not the path it was
// run from), each argument quoted for a shell where it needs it, and the values of options that
// carry secrets (--password, --operator-code, with a space or '=') replaced by "***".
std::string command_line(int argc, const char* const* argv);

struct StoredEntry {
  std::int64_t id = 0;
  Entry entry;
  std::string hash_hex;
};

// Appends one entry and returns its id. Call it inside your own storage::Transaction so that
// the entry is written together with the change it describes, or not at all (the daemon for
// relay commands carried out and readings accepted or rejected, billing, the CLI); outside a
// transaction it opens one of its own. The append-only triggers stay in place: this only
// inserts.
std::int64_t append(storage::Database& db, const Entry& entry);

// Entries in id order, from `since` on when given.
std::vector<StoredEntry> list(storage::Database& db, std::optional<UnixTime> since = std::nullopt);

// The newest entry, for anchoring outside the database; nullopt when the log is empty.
std::optional<StoredEntry> head(storage::Database& db);

// Checks the chain. Returns one line per problem, empty when the chain is intact: an entry whose
// hash does not match its contents and its predecessor (altered, or an entry before it removed
// or reordered), ids that skip (entries removed), a hash of the wrong size. With expect_head (a
// hash printed earlier by head()), also reports when no entry carries that hash (the log was
// rewritten or cut before that point).
std::vector<std::string> verify(storage::Database& db, std::optional<std::string> expect_head = std::nullopt);

// The bytes hashed for one entry after the previous hash: every field length-prefixed, so that
// no two different entries serialise alike. Exposed for tests and for anyone re-checking the
// chain with other tools: "kwh-audit-1|" then id, time as decimal, then operator, action,
// subject, command, detail each as "<length>:<bytes>" or "-" for none, separated by "|".
std::string canonical(std::int64_t id, const Entry& entry);

// SHA-256 over the previous hash (32 bytes, or empty for the first entry: 32 zero bytes are
// used) and canonical(id, entry). 32 raw bytes.
std::string chain_hash(const std::string& previous_hash, std::int64_t id, const Entry& entry);

} // namespace kwh::audit
