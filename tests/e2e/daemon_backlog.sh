#!/usr/bin/env bash
# kwhd's backlog of unwritten readings is bounded by [poll] max_backlog. Another writer holds the
# database for 10 s while kwhd polls 30 meters every second (about 300 readings) with a limit of
# 100. Proves: kwhd logs one line when it starts dropping and one when the backlog is under the
# limit again; it counts what it dropped in its metrics; every meter's newest reading from the
# locked stretch is written; billing charged every Wh once across what was dropped (registers are
# cumulative); kwh check holds.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
kwh init >/dev/null
start_sim 30 3 --speed 3600 --load-w 2000
add_site 3 10
kwh tariff add flat --flat 1.0000 >/dev/null
for u in 1 2 3; do
  kwh account open "A$u" --name "Shop $u" --tariff flat --meter "M1_$u" >/dev/null
  kwh sell "A$u" 100000 >/dev/null
done
port=$(free_port)
cat >"$T/kwh.toml" <<TOML
[poll]
interval = "1s"
timeout = "300ms"
retries = 0
offline_after = 2
max_backlog = 100

[billing]
max_power_w = 100000000

[metrics]
listen = "127.0.0.1:$port"
TOML
chmod 644 "$T/kwh.toml"
start_kwhd
wait_for 15 at_least 60 "SELECT count(*) FROM readings" || { cat "$T/kwhd.err" >&2; fail "kwhd stored no readings"; }

/usr/bin/python3 -c "
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute('BEGIN IMMEDIATE')
time.sleep(10)
db.execute('ROLLBACK')
" "$KWH_DB"
locked_to=$(date +%s)
wait_for 10 grep -q "under \[poll\] max_backlog again" "$T/kwhd.err" ||
  { cat "$T/kwhd.err" >&2; fail "kwhd did not say the backlog was under its limit again"; }
wait_for 10 at_least 30 "SELECT count(*) FROM readings WHERE t >= $locked_to" ||
  { cat "$T/kwhd.err" >&2; fail "kwhd wrote nothing after the lock was released"; }
metrics=$(/usr/bin/python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$port/metrics', timeout=5).read().decode())")
kill -TERM "$KWHD_PID"
wait "$KWHD_PID" || fail "kwhd did not exit 0"

[ "$(grep -c 'dropping the older readings' "$T/kwhd.err")" = 1 ] ||
  { cat "$T/kwhd.err" >&2; fail "kwhd did not log the start of dropping exactly once"; }
[ "$(grep -c 'max_backlog again' "$T/kwhd.err")" = 1 ] || { cat "$T/kwhd.err" >&2; fail "kwhd did not log the end once"; }
said=$(sed -n 's/.*; \([0-9]*\) readings were dropped.*/\1/p' "$T/kwhd.err")
dropped=$(printf '%s\n' "$metrics" | sed -n 's/^kwh_readings_dropped_total //p')
[ "${dropped:-0}" -ge 100 ] || fail "kwh_readings_dropped_total is '$dropped'"
equals "$said" "$dropped"
if grep -q "not written" "$T/kwhd.err"; then cat "$T/kwhd.err" >&2; fail "kwhd dropped a batch"; fi
# Each meter has a reading from the last seconds of the locked stretch: its newest was kept.
for g in 1 2 3; do
  for u in 1 5 10; do
    id=$(sql "SELECT id FROM meters WHERE name = 'M${g}_$u'")
    n=$(sql "SELECT count(*) FROM readings WHERE meter_id = $id AND t BETWEEN $((locked_to - 3)) AND $locked_to")
    [ "$n" -ge 1 ] || fail "M${g}_$u: no reading from the end of the locked stretch"
  done
done
for u in 1 2 3; do
  id=$(sql "SELECT id FROM meters WHERE name = 'M1_$u'")
  counted=$(sql "SELECT max(value) - min(value) FROM readings WHERE meter_id = $id")
  charged=$(sql "SELECT coalesce(sum(quantity), 0) FROM charges WHERE meter_id = $id")
  equals "$charged" "$counted"
done
expect_exit 0 kwh check
echo ok
