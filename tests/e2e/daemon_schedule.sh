#!/usr/bin/env bash
# kwhd polls on schedule: with interval 1s every meter gets a reading every second, stamped
# with whole-second cycle times shared by all meters; --once polls each meter once and exits 0.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
kwh init >/dev/null
start_sim 4 2
add_site 2 2
write_config

expect_exit 0 kwhd --config "$T/kwh.toml" --once
equals "$(sql 'SELECT count(*) FROM readings')" 4
equals "$(sql 'SELECT count(DISTINCT t) FROM readings')" 1
equals "$(sql "SELECT count(*) FROM meters WHERE status = 'online'")" 4

start_kwhd
wait_for 15 at_least 5 "SELECT count(DISTINCT t) FROM readings" || { cat "$T/kwhd.err" >&2; fail "no readings every second"; }
kill -TERM $KWHD_PID
wait $KWHD_PID || fail "kwhd did not exit 0"

# Every cycle (after the --once reading, and before the last one, which SIGTERM may have cut
# short) has all four meters at the same second, and the cycles are consecutive seconds.
once_t=$(sql 'SELECT min(t) FROM readings')
last_t=$(sql 'SELECT max(t) FROM readings')
cycles=$(sql "SELECT count(DISTINCT t) FROM readings WHERE t > $once_t")
span=$(sql "SELECT max(t) - min(t) + 1 FROM readings WHERE t > $once_t")
[ "$cycles" -ge 4 ] || fail "expected at least 4 cycles, got $cycles"
# A cycle may be missed on a loaded machine, but not many.
[ $((span - cycles)) -le 1 ] || fail "cycles not every second: $cycles cycles over $span s"
equals "$(sql "SELECT count(*) FROM (SELECT t FROM readings WHERE t > $once_t AND t < $last_t GROUP BY t HAVING count(*) != 4)")" 0
# Energy only grows.
equals "$(sql 'SELECT count(*) FROM readings a JOIN readings b ON a.meter_id = b.meter_id AND b.t > a.t AND b.value < a.value')" 0
# meter_values holds the latest values of each meter, as JSON.
equals "$(sql "SELECT count(*) FROM meter_values WHERE json_extract(\"values\", '\$.energy_total') > 0")" 4
