#pragma once
// The hub's side: its schema (the SQL files in sql/, applied by `kwh hub init`), the sites it
// knows, a batch of outbox rows taken in, and alarms. Every statement is parameterised.

#include <kwh/hub/outbox.hpp>
#include <kwh/hub/pg.hpp>

#include <optional>
#include <string>
#include <vector>

namespace kwh::hub {

struct SchemaFile {
  const char* name; // "001_init.sql"
  const char* sql;
};
// The hub's schema files in order, embedded at build time (schema_sql.cpp, generated).
const std::vector<SchemaFile>& schema_files();
int hub_schema_latest();

// Creates or migrates the hub's schema: each file whose number is above the hub's version runs
// in a transaction of its own, under an advisory lock so that two at once wait for each other.
// Returns how many were applied (0: current). Error when the hub is newer than this kwh.
int init_schema(PgConnection& conn);
// The hub's schema version; 0 when it has none.
int hub_schema_version(PgConnection& conn);
// Fails (1) unless the hub has this kwh's schema: the office's commands read its newest tables.
void require_current_schema(PgConnection& conn);

// A site as the hub knows it.
struct HubSite {
  std::string epoch;
  std::int64_t last_seq = 0;
  std::optional<std::string> stopped;
};
std::optional<HubSite> find_site(PgConnection& conn, const std::string& site_id);
// Registers a site on its first push (nothing when it is known already).
void register_site(PgConnection& conn, const std::string& site_id, const std::string& epoch);
// A site's new epoch (kwh hub reset-epoch): the hub, holding `old_epoch` for the site, moves its
// rows aside to a site of their own and takes the site's pushes anew from seq 1 (hub_new_epoch,
// schema 4). Returns the name the old rows are kept under; nullopt when the hub has the new
// epoch already.
std::optional<std::string> new_epoch(PgConnection& conn, const std::string& site_id, const std::string& old_epoch,
                                     const std::string& epoch);
// The hash the hub holds for a site's row; nullopt when it has none.
std::optional<std::string> row_hash_at(PgConnection& conn, const std::string& site_id, std::int64_t seq);

// A row whose hash differs from the one the hub holds for the same seq.
struct Mismatch {
  std::int64_t seq = 0;
  std::string hub_hash, site_hash;
};
struct BatchResult {
  std::int64_t inserted = 0;            // new rows (the rest were duplicates)
  std::vector<Mismatch> mismatches;     // not empty: nothing was taken in
  std::optional<std::string> stopped;   // the hub refuses the site's pushes (an open alarm)
  std::optional<std::string> other_epoch; // the hub holds another epoch for the site (no alarm yet)
};
// Takes a batch in, in one transaction: the site's row locked, each row inserted unless its
// seq is there (ON CONFLICT DO NOTHING), sites.last_seq and last_push moved. When a row's hash
// differs from the hub's row of the same seq, nothing is taken and the mismatches come back.
BatchResult push_batch(PgConnection& conn, const std::string& site_id, const std::string& epoch,
                       const std::vector<OutboxRow>& rows);

// Writes an alarm for a site and refuses its pushes from now on (sites.stopped).
void raise_alarm(PgConnection& conn, const std::string& site_id, const std::string& kind,
                 std::optional<std::int64_t> seq, const std::string& detail);

} // namespace kwh::hub
