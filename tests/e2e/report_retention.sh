#!/usr/bin/env bash
# Retention: kwh reading prune thins raw readings older than [retention] raw to one per thin_to
# and removes old events, and every report, statement and the reconciliation gives the same
# totals before and after (they read the daily rollups and the ledger, never raw readings);
# --dry-run counts the same and writes nothing; a second prune finds nothing; kwhd does the
# same once a day at prune_at.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
need_sqlite3
cat >"$T/kwh.toml" <<'TOML'
timezone = "Asia/Shanghai"
[retention]
raw = "30d"
thin_to = "1h"
events = "60d"
TOML
export KWH_CONFIG="$T/kwh.toml"
q() { sqlite3 "$KWH_DB" "$1"; }
kwh init >/dev/null
kwh gateway add gw --tcp 127.0.0.1:1 >/dev/null
kwh meter add M1 --gateway gw --unit 1 --profile acrel-dtsy1352 >/dev/null
kwh meter add M2 --gateway gw --unit 2 --profile acrel-ddsy1352 >/dev/null
kwh tariff add flat --flat 1.2345 --effective 2025-01-01 >/dev/null
kwh account open A1 --name "Tea house" --tariff flat --meter M1 --opened 2025-01-01 >/dev/null
kwh account open A2 --name "Print shop" --tariff flat --meter M2 --opened 2025-01-01 >/dev/null
kwh sell A1 5000 --method cash >/dev/null
kwh sell A2 3000 --method card >/dev/null

# 75 days of 15-minute readings, ending two hours ago, M1 with band registers; M2's counter is
# reset 65 days ago (a counter_reset event, old enough to go). The readings lie half a quarter
# off the prunes' cutoff (now - 30 days), so that no reading crosses it for 450 s: kwhd's prune
# below must count what kwh reading prune counted, however slowly the test runs.
now=$(date +%s)
start=$(( now - 75 * 86400 - 450 ))
reset_at=$(( now - 65 * 86400 ))
awk -v start=$start -v end=$((now - 7200)) -v reset_at=$reset_at 'BEGIN {
  print "meter,time,energy_total,energy_sharp,energy_peak,energy_flat,energy_valley"
  e1 = 1000000; p = 300000; v = 700000; e2 = 5000000
  for (t = start; t <= end; t += 900) {
    ts = strftime("%Y-%m-%dT%H:%M:%SZ", t, 1)
    printf "M1,%s,%d,0,%d,0,%d\n", ts, e1, p, v
    printf "M2,%s,%d,,,,\n", ts, e2
    e1 += 611; p += 311; v += 300; e2 += 402
    if (t + 900 >= reset_at && t < reset_at) e2 = 77
  }
}' >"$T/r.csv"
expect_exit 0 kwh reading import "$T/r.csv"
total=$(q "SELECT (SELECT count(*) FROM readings) + (SELECT sum(n) FROM reading_blocks)")
equals "$(q "SELECT count(*) FROM events WHERE kind = 'counter_reset'")" 1
# The events older than 60 days: that reset and the accounts' openings.
old_events=$(q "SELECT count(*) FROM events WHERE time < $now - 60 * 86400")
equals "$old_events" 3

from=$(TZ=Asia/Shanghai date -d "@$start" +%F); to=$(TZ=Asia/Shanghai date +%F)
reports() {
  kwh report energy --from "$from" --to "$to" --by month --format csv
  kwh report energy --from "$from" --to "$to" --by meter --format csv
  kwh report energy --from "$from" --to "$to" --by day --format csv
  kwh report sales --from "$from" --to "$to" --by day --format csv
  kwh report balances --format csv
  kwh report statement --account A1 --from "$from" --to "$to" --format csv
  kwh report statement --account A2 --from "$from" --to "$to" --format csv
  kwh report reconcile --from "$from" --to "$to" --format csv
}
reports >"$T/before.csv"
audit_before=$(q "SELECT count(*) FROM audit")
sqlite3 "$KWH_DB" ".backup $T/for-kwhd.db" # for kwhd's own prune, below

# A dry run: the counts, and not a byte written.
dump() { sqlite3 "$KWH_DB" .dump | md5sum; }
d0=$(dump)
expect_exit 0 kwh reading prune --dry-run --json
dry=$OUT
equals "$(dump)" "$d0"
removed=$(echo "$dry" | json 'd["readings_removed"]')
[ "$removed" -gt 4000 ] || fail "the dry run would remove only $removed readings"
equals "$(echo "$dry" | json 'd["events_removed"]')" "$old_events"
[ "$(echo "$dry" | json 'd["bytes_freed"]')" -gt 0 ] || fail "the dry run expects to free nothing"

# The prune: what the dry run said, every report the same.
expect_exit 0 kwh reading prune --json
equals "$(echo "$OUT" | json 'd["readings_removed"]')" "$removed"
equals "$(echo "$OUT" | json 'd["events_removed"]')" "$old_events"
equals "$(q "SELECT (SELECT count(*) FROM readings) + (SELECT sum(n) FROM reading_blocks)")" $((total - removed))
reports >"$T/after.csv"
diff "$T/before.csv" "$T/after.csv" >&2 || fail "a report changed with the prune"
expect_exit 0 kwh check
equals "$(q "SELECT count(*) FROM audit")" $((audit_before + 1)) # the prune, not the dry run
equals "$(q "SELECT count(*) FROM events WHERE kind = 'counter_reset'")" 0

# A day older than raw keeps about one reading an hour (96 before); a recent day all of them.
old_day=$(TZ=Asia/Shanghai date -d "@$((now - 40 * 86400))" +%F)
n_old=$(kwh reading list M1 --from "$old_day" --to "$(TZ=Asia/Shanghai date -d "$old_day + 1 day" +%F)" --format csv | tail -n +2 | wc -l)
[ "$n_old" -ge 24 ] && [ "$n_old" -le 26 ] || fail "a thinned day kept $n_old readings"
new_day=$(TZ=Asia/Shanghai date -d "@$((now - 5 * 86400))" +%F)
equals "$(kwh reading list M1 --from "$new_day" --to "$(TZ=Asia/Shanghai date -d "$new_day + 1 day" +%F)" --format csv | tail -n +2 | wc -l)" 96
# The consumption between the readings that are left is what the meter counted: 611 Wh a
# quarter-hour for M1, over any stretch.
first=$(kwh reading list M1 --format csv | sed -n 2p | cut -d, -f1,2)
last=$(kwh reading list M1 --format csv | tail -1 | cut -d, -f1,2)
t_first=$(date -d "${first%%,*}" +%s); t_last=$(date -d "${last%%,*}" +%s)
equals $(( ${last##*,} - ${first##*,} )) $(( (t_last - t_first) / 900 * 611 ))

# Again: nothing left to prune.
expect_exit 0 kwh reading prune --json
equals "$(echo "$OUT" | json 'd["readings_removed"]')" 0
equals "$(echo "$OUT" | json 'd["events_removed"]')" 0

# kwhd prunes once a day at prune_at: on the database as it was before the prune, with a
# prune_at that has passed today, it does what kwh reading prune did, and says so.
export KWH_DB="$T/for-kwhd.db"
cat >>"$T/kwh.toml" <<'TOML'
prune_at = "00:00"
[poll]
interval = "24h"
TOML
"$KWHD" --config "$T/kwh.toml" 2>"$T/kwhd.err" &
KWHD_PID=$!
track $KWHD_PID
wait_for 30 grep -q "pruned:" "$T/kwhd.err" || { cat "$T/kwhd.err" >&2; fail "kwhd did not prune"; }
kill -TERM $KWHD_PID; wait $KWHD_PID || fail "kwhd did not stop cleanly"
contains "$(cat "$T/kwhd.err")" "$removed readings thinned away"
equals "$(q "SELECT (SELECT count(*) FROM readings) + (SELECT sum(n) FROM reading_blocks)")" $((total - removed))
equals "$(q "SELECT value FROM settings WHERE key = 'retention_pruned'")" "$(TZ=Asia/Shanghai date +%F)"
reports >"$T/kwhd.csv"
diff "$T/before.csv" "$T/kwhd.csv" >&2 || fail "a report changed with kwhd's prune"
expect_exit 0 kwh check
