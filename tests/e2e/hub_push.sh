#!/usr/bin/env bash
# A site pushes to the office's hub ([hub], kwh-hub(1)) on a real PostgreSQL: kwh hub init makes
# the schema (and says it is current the second time); kwhd on the simulator pushes every ledger
# entry once, with the same amounts to the minor unit; with the hub stopped (a dead WAN) sales
# and billing go on, kwh hub status shows the backlog and the error, and the backlog drains when
# the hub is back; kwhd killed with -9, and a crash between the hub's commit and the site's,
# neither lose nor double a row; a row the hub holds with another hash is an alarm, never
# overwritten; a site database restored from an older copy is an alarm on the hub and at the
# site, and is not merged.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
source "$KWH_SOURCE/tests/e2e/hub_lib.sh"
need_sqlite3
need_pg
start_pg

hub_site north "$PG_URL" 2 'batch = 7' 'retry = "300ms"'
export KWH_CONFIG="$T/kwh.toml"
expect_exit 0 kwhd --config "$T/kwh.toml" --check-config

# The schema, twice: the second time it is current.
expect_exit 0 kwh hub init
contains "$OUT" "schema version $HUB_SCHEMA"
expect_exit 0 kwh hub init
contains "$OUT" "current"
equals "$(psql_q "SELECT max(version) FROM hub_schema_version")" "$HUB_SCHEMA"
expect_exit 0 kwh hub status --json
equals "$(echo "$OUT" | json 'd["site_id"]')" north
[ "$(echo "$OUT" | json 'd["rows_waiting"]')" -gt 0 ] || fail "no rows waiting before kwhd ran: $OUT"

start_kwhd
for i in $(seq 1 12); do kwh sell A$((i % 2 + 1)) "1.$(printf %02d "$i")" --ref "till-$i" >/dev/null; done
wait_for 30 in_step north || { cat "$T/kwhd.err" >&2; fail "the hub did not get the site's ledger"; }
equals "$(psql_q "SELECT sum(amount) FROM ledger WHERE site_id = 'north' AND kind = 'sale'")" \
  "$(sql "SELECT sum(amount) FROM ledger WHERE kind = 'sale'")"
equals "$(psql_q "SELECT count(*) FROM ledger WHERE site_id = 'north' AND ref LIKE 'till-%'")" 12
# 1.1 + ... + 1.12 in minor units, as kwh account show adds it up.
equals "$(psql_q "SELECT sum(amount) FROM ledger WHERE site_id = 'north' AND ref LIKE 'till-%'")" \
  $((12 * 100 + 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 + 10 + 11 + 12))
equals "$(psql_q "SELECT count(*) FROM accounts WHERE site_id = 'north'")" 2
wait_for 10 at_least 1 "SELECT count(*) FROM daily_usage"
expect_exit 0 kwh hub status
contains "$OUT" "last_push"
grep -q "hub: pushing to" "$T/kwhd.err" || fail "kwhd did not log its pushes: $(cat "$T/kwhd.err")"
# An older copy of the site's database, for the end.
sql ".backup '$T/old.db'"

# A dead WAN: sales go on at once, billing goes on, the backlog waits.
pg_stop
usage_before=$(sql "SELECT sum(quantity) FROM daily_usage")
for i in $(seq 13 20); do
  started=$(date +%s%N)
  expect_exit 0 kwh sell A1 "2.$(printf %02d "$i")" --ref "till-$i"
  took=$((($(date +%s%N) - started) / 1000000))
  [ "$took" -lt 3000 ] || fail "a sale took $took ms while the hub was away"
done
wait_for 15 has_error || fail "kwh hub status shows no error while the hub is away: $(kwh hub status)"
expect_exit 0 kwh hub status --json
[ "$(echo "$OUT" | json 'd["rows_waiting"]')" -ge 8 ] || fail "expected the sales waiting: $OUT"
[ "$(echo "$OUT" | json 'd["oldest_waiting"] is not None')" = True ] || fail "no oldest waiting row: $OUT"
wait_for 10 at_least $((usage_before + 1)) "SELECT sum(quantity) FROM daily_usage" || fail "billing stopped with the hub"
equals "$(sql "SELECT count(*) FROM accounts WHERE status = 'arrears'")" 0
pg_start
wait_for 30 in_step north || { cat "$T/kwhd.err" >&2; fail "the backlog did not drain"; }
equals "$(kwh hub status --json | json 'd["last_error"]')" None

# kill -9 while pushing, and a crash between the hub's commit and the site's: the rows go again
# and are duplicates, nothing doubled, no alarm.
for i in $(seq 21 40); do kwh sell A2 "0.$(printf %02d "$i")" --ref "till-$i" >/dev/null; done
kill -9 "$KWHD_PID"
wait "$KWHD_PID" 2>/dev/null || true
sql "UPDATE settings SET value = '0' WHERE key = 'hub.pushed'"
start_kwhd
wait_for 30 in_step north || { cat "$T/kwhd.err" >&2; fail "not in step after kill -9"; }
equals "$(psql_q "SELECT count(*) FROM site_rows WHERE site_id = 'north'")" \
  "$(psql_q "SELECT count(DISTINCT seq) FROM site_rows WHERE site_id = 'north'")"
equals "$(psql_q "SELECT count(*) - count(DISTINCT key) FROM site_rows WHERE site_id = 'north' AND kind = 'ledger'")" 0
equals "$(psql_q "SELECT count(*) FROM alarms")" 0
equals "$(psql_q "SELECT count(*) FROM ledger WHERE site_id = 'north' AND ref LIKE 'till-%'")" 40

# A row the hub holds with another hash (here: altered at the hub) is an alarm when the site
# sends that row again: nothing is overwritten, the pushes stop.
has_alarm() { [ "$(kwh hub status --json | json 'd["alarm"] is not None')" = True ]; }
kill -TERM "$KWHD_PID"
wait "$KWHD_PID" 2>/dev/null || true
psql_q "UPDATE site_rows SET hash = sha256('altered') WHERE site_id = 'north' AND seq = 3"
sql "UPDATE settings SET value = '0' WHERE key = 'hub.pushed'"
start_kwhd
wait_for 20 has_alarm || { cat "$T/kwhd.err" >&2; fail "a row with another hash was not an alarm"; }
equals "$(psql_q "SELECT kind || ' ' || seq FROM alarms WHERE site_id = 'north'")" "hash_mismatch 3"
equals "$(psql_q "SELECT encode(hash, 'hex') FROM site_rows WHERE site_id = 'north' AND seq = 3")" \
  "$(psql_q "SELECT encode(sha256('altered'), 'hex')")"
contains "$(kwh hub status)" "hash"
# What kwh-hub(1) says the operator does once decided: clear the alarm at the hub and the site.
kill -TERM "$KWHD_PID"
wait "$KWHD_PID" 2>/dev/null || true
psql_q "UPDATE sites SET stopped = NULL WHERE site_id = 'north'"
sql "DELETE FROM settings WHERE key = 'hub.alarm'"

# The older copy put back: an alarm, not a merge.
hub_rows=$(psql_q "SELECT count(*) FROM site_rows WHERE site_id = 'north'")
rm -f "$KWH_DB-wal" "$KWH_DB-shm"
cp "$T/old.db" "$KWH_DB"
kwh sell A1 3.33 --ref after-restore >/dev/null
start_kwhd
wait_for 20 has_alarm || { cat "$T/kwhd.err" >&2; fail "a restored database was not detected"; }
contains "$(kwh hub status)" "restored"
equals "$(psql_q "SELECT kind FROM alarms WHERE site_id = 'north' ORDER BY id DESC LIMIT 1")" restored
[ -n "$(psql_q "SELECT stopped FROM sites WHERE site_id = 'north'")" ] || fail "the hub still takes the site's pushes"
grep -q "ALARM" "$T/kwhd.err" || fail "kwhd did not log the alarm: $(cat "$T/kwhd.err")"
sleep 1
equals "$(psql_q "SELECT count(*) FROM site_rows WHERE site_id = 'north'")" "$hub_rows"
equals "$(psql_q "SELECT count(*) FROM ledger WHERE ref = 'after-restore'")" 0
# The site sells on.
expect_exit 0 kwh sell A1 1 --ref after-alarm

# kwh hub reset-epoch: the restored database starts a new epoch and pushes its whole ledger
# again; the hub keeps the old epoch's rows apart as a site of their own, which --all leaves out.
old_epoch=$(kwh hub status --json | json 'd["epoch"]')
expect_exit 0 kwh hub reset-epoch --json
new_epoch=$(printf '%s' "$OUT" | json 'd["epoch"]')
kept=$(printf '%s' "$OUT" | json 'd["kept_as"]')
equals "$kept" "north@${old_epoch:0:8}"
[ "$new_epoch" != "$old_epoch" ] || fail "the epoch did not change"
wait_for 30 in_step north || { cat "$T/kwhd.err" >&2; fail "the new epoch did not reach the hub"; }
grep -q "keeps the rows of epoch $old_epoch apart as site $kept" "$T/kwhd.err" || fail "kwhd did not log the new epoch"
equals "$(psql_q "SELECT epoch FROM sites WHERE site_id = 'north'")" "$new_epoch"
equals "$(psql_q "SELECT min(seq) FROM site_rows WHERE site_id = 'north'")" 1
equals "$(psql_q "SELECT replaced_by FROM sites WHERE site_id = '$kept'")" north
# The old epoch's rows, untouched: among them the sales the restored copy lost.
equals "$(psql_q "SELECT count(*) FROM site_rows WHERE site_id = '$kept'")" "$hub_rows"
equals "$(psql_q "SELECT count(*) FROM ledger WHERE site_id = '$kept' AND ref LIKE 'till-%'")" 40
equals "$(psql_q "SELECT count(*) FROM ledger WHERE site_id = 'north' AND ref IN ('after-restore', 'after-alarm')")" 2
equals "$(psql_q "SELECT count(*) FROM alarms WHERE resolved IS NULL")" 0
equals "$(kwh hub status --json | json 'd["alarm"]')" None
# The office's reports over --all are the site's: the kept epoch is not counted twice.
expect_exit 0 office hub report sales --all --by account --format csv
equals "$(printf '%s\n' "$OUT" | tail -n +2 | cut -d, -f2-)" "$(kwh report sales --by account --format csv | tail -n +2)"
expect_exit 0 office hub report sales --site "$kept" --format csv
expect_exit 0 office hub check --all
# Without an alarm, a new epoch takes --yes.
expect_exit 64 kwh hub reset-epoch
expect_one_line_error
contains "$ERR" "--yes"
