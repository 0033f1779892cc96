#include <kwh/hub/hub.hpp>

#include <fmt/format.h>

#include <cstdlib>

namespace kwh::hub {

namespace {

// The advisory lock `kwh hub init` holds while it migrates (an arbitrary constant: "kwhhub").
constexpr const char* k_init_lock = "7020584313766242";

int file_number(const char* name) { return std::atoi(name); }

// A JSON string literal (the rows' keys and kinds; payloads are JSON already).
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += fmt::format("\\u{:04x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
}

} // namespace

int hub_schema_latest() {
  int latest = 0;
  for (const auto& f : schema_files()) latest = std::max(latest, file_number(f.name));
  return latest;
}

int hub_schema_version(PgConnection& conn) {
  auto exists = conn.exec("SELECT to_regclass('hub_schema_version') IS NOT NULL");
  if (exists.text(0, 0) != "t") return 0;
  auto v = conn.exec("SELECT coalesce(max(version), 0) FROM hub_schema_version");
  return static_cast<int>(v.integer(0, 0));
}

void require_current_schema(PgConnection& conn) {
  const int version = hub_schema_version(conn);
  if (version < hub_schema_latest())
    fail(Exit::failed, "the hub {} has schema version {}; run 'kwh hub init' to bring it to {}", conn.where(), version,
         hub_schema_latest());
}

int init_schema(PgConnection& conn) {
  int applied = 0;
  for (const auto& file : schema_files()) {
    PgTransaction tx(conn);
    conn.exec("SELECT pg_advisory_xact_lock($1::bigint)", {std::string(k_init_lock)});
    conn.exec("CREATE TABLE IF NOT EXISTS hub_schema_version ("
              "version integer PRIMARY KEY, file text NOT NULL, applied timestamptz NOT NULL DEFAULT now())");
    const int current = hub_schema_version(conn);
    if (current > hub_schema_latest())
      fail(Exit::failed, "the hub has schema version {}, newer than this kwh knows ({}); upgrade kwh", current,
           hub_schema_latest());
    const int number = file_number(file.name);
    if (number <= current) continue;
    conn.exec_script(file.sql);
    conn.exec("INSERT INTO hub_schema_version(version, file) VALUES ($1::integer, $2)",
              {std::to_string(number), std::string(file.name)});
    tx.commit();
    ++applied;
  }
  return applied;
}

std::optional<HubSite> find_site(PgConnection& conn, const std::string& site_id) {
  auto r = conn.exec("SELECT epoch, last_seq, stopped FROM sites WHERE site_id = $1", {site_id});
  if (r.rows() == 0) return std::nullopt;
  return HubSite{r.text(0, 0), r.integer(0, 1), r.opt_text(0, 2)};
}

void register_site(PgConnection& conn, const std::string& site_id, const std::string& epoch) {
  conn.exec("INSERT INTO sites(site_id, epoch) VALUES ($1, $2) ON CONFLICT (site_id) DO NOTHING", {site_id, epoch});
}

std::optional<std::string> new_epoch(PgConnection& conn, const std::string& site_id, const std::string& old_epoch,
                                     const std::string& epoch) {
  PgTransaction tx(conn);
  auto r = conn.exec("SELECT hub_new_epoch($1, $2, $3)", {site_id, old_epoch, epoch});
  tx.commit();
  return r.opt_text(0, 0);
}

std::optional<std::string> row_hash_at(PgConnection& conn, const std::string& site_id, std::int64_t seq) {
  auto r = conn.exec("SELECT encode(hash, 'hex') FROM site_rows WHERE site_id = $1 AND seq = $2::bigint",
                     {site_id, std::to_string(seq)});
  if (r.rows() == 0) return std::nullopt;
  return r.text(0, 0);
}

BatchResult push_batch(PgConnection& conn, const std::string& site_id, const std::string& epoch,
                       const std::vector<OutboxRow>& rows) {
  BatchResult result;
  if (rows.empty()) return result;
  // The batch as one JSON array parameter: one round trip, whatever its size.
  std::string batch = "[";
  std::int64_t last = 0;
  for (const auto& row : rows) {
    if (batch.size() > 1) batch += ',';
    batch += fmt::format("{{\"seq\":{},\"kind\":", row.seq);
    append_json_string(batch, row.kind);
    batch += ",\"key\":";
    append_json_string(batch, row.key);
    batch += ",\"hash\":";
    append_json_string(batch, row.hash);
    batch += ",\"payload\":";
    batch += row.payload;
    batch += '}';
    last = std::max(last, row.seq);
  }
  batch += ']';

  PgTransaction tx(conn);
  auto site = conn.exec("SELECT epoch, stopped FROM sites WHERE site_id = $1 FOR UPDATE", {site_id});
  if (site.rows() == 0) fail(Exit::failed, "hub: site {} is not registered", site_id);
  if (!site.is_null(0, 1)) {
    result.stopped = site.text(0, 1);
    return result;
  }
  if (site.text(0, 0) != epoch) {
    result.other_epoch = site.text(0, 0);
    return result;
  }
  auto clash = conn.exec(
      "SELECT r.seq, encode(s.hash, 'hex'), r.hash FROM jsonb_to_recordset($2::jsonb) AS r(seq bigint, hash text) "
      "JOIN site_rows s ON s.site_id = $1 AND s.seq = r.seq WHERE s.hash <> decode(r.hash, 'hex') ORDER BY r.seq",
      {site_id, batch});
  for (int i = 0; i < clash.rows(); ++i)
    result.mismatches.push_back({clash.integer(i, 0), clash.text(i, 1), clash.text(i, 2)});
  if (!result.mismatches.empty()) return result;
  auto ins = conn.exec(
      "INSERT INTO site_rows(site_id, epoch, seq, kind, key, hash, payload) "
      "SELECT $1, $2, r.seq, r.kind, r.key, decode(r.hash, 'hex'), r.payload "
      "FROM jsonb_to_recordset($3::jsonb) AS r(seq bigint, kind text, key text, hash text, payload jsonb) ORDER BY r.seq "
      "ON CONFLICT (site_id, seq) DO NOTHING",
      {site_id, epoch, batch});
  result.inserted = ins.affected();
  conn.exec("UPDATE sites SET last_seq = greatest(last_seq, $2::bigint), rows = rows + $3::bigint, last_push = now() "
            "WHERE site_id = $1",
            {site_id, std::to_string(last), std::to_string(result.inserted)});
  tx.commit();
  return result;
}

void raise_alarm(PgConnection& conn, const std::string& site_id, const std::string& kind,
                 std::optional<std::int64_t> seq, const std::string& detail) {
  PgTransaction tx(conn);
  conn.exec("INSERT INTO alarms(site_id, kind, seq, detail) VALUES ($1, $2, $3::bigint, $4)",
            {site_id, kind, seq ? std::optional<std::string>(std::to_string(*seq)) : std::nullopt, detail});
  conn.exec("UPDATE sites SET stopped = $2 WHERE site_id = $1 AND stopped IS NULL", {site_id, detail});
  tx.commit();
}

} // namespace kwh::hub
