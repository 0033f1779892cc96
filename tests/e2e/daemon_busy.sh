#!/usr/bin/env bash
# Another writer holds the database for 12 s (more than two of kwhd's 5 s busy timeouts), as a
# long kwh reading import does. Proves: kwhd says so in its log, keeps polling meanwhile, and
# once the lock is free writes every reading it took, with the time it was taken: no reading is
# lost and no meter has a gap over 2 s, across the locked stretch too; and billing charged
# every Wh once.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
kwh init >/dev/null
start_sim 3 1 --speed 3600 --load-w 2000
add_site 1 3
kwh tariff add flat --flat 1.0000 >/dev/null
for u in 1 2 3; do
  kwh account open "A$u" --name "Shop $u" --tariff flat --meter "M1_$u" >/dev/null
  kwh sell "A$u" 100000 >/dev/null
done
write_config '[billing]' 'max_power_w = 100000000'
start_kwhd
wait_for 15 at_least 6 "SELECT count(*) FROM readings" || { cat "$T/kwhd.err" >&2; fail "kwhd stored no readings"; }

# Hold the write lock (BEGIN IMMEDIATE) for 12 s from another connection.
locked_from=$(date +%s)
/usr/bin/python3 -c "
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute('BEGIN IMMEDIATE')
time.sleep(12)
db.execute('ROLLBACK')
" "$KWH_DB"
locked_to=$(date +%s)
# What was polled meanwhile is written soon after.
wait_for 10 at_least 3 "SELECT count(*) FROM readings WHERE t > $((locked_to - 2))" \
  || { cat "$T/kwhd.err" >&2; fail "kwhd wrote nothing after the lock was released"; }
sleep 2
kill -TERM "$KWHD_PID"
wait "$KWHD_PID" || fail "kwhd did not exit 0"

grep -q "database busy" "$T/kwhd.err" || { cat "$T/kwhd.err" >&2; fail "kwhd did not log that the database was busy"; }
if grep -q "not written" "$T/kwhd.err"; then cat "$T/kwhd.err" >&2; fail "kwhd dropped records"; fi
for u in 1 2 3; do
  id=$(sql "SELECT id FROM meters WHERE name = 'M1_$u'")
  n=$(sql "SELECT count(*) FROM readings WHERE meter_id = $id AND t BETWEEN $locked_from AND $locked_to")
  [ "$n" -ge 8 ] || fail "M1_$u: $n readings taken in the 12 s the database was locked"
  gap=$(sql "SELECT max(gap) FROM (SELECT t - lag(t) OVER (ORDER BY t) AS gap FROM readings WHERE meter_id = $id)")
  [ "${gap:-0}" -le 2 ] || fail "M1_$u: a gap of $gap s between readings"
  counted=$(sql "SELECT max(value) - min(value) FROM readings WHERE meter_id = $id")
  charged=$(sql "SELECT coalesce(sum(quantity), 0) FROM charges WHERE meter_id = $id")
  equals "$charged" "$counted"
done
expect_exit 0 kwh check
