#!/usr/bin/env bash
# SIGHUP reloads the configuration and the gateways and meters: a meter added while kwhd
# runs is polled after the signal, and not before.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
kwh init >/dev/null
start_sim 3 1
add_site 1 1
write_config
start_kwhd
wait_for 10 at_least 2 "SELECT count(*) FROM readings" || { cat "$T/kwhd.err" >&2; fail "kwhd never read"; }

kwh meter add NEW --gateway g1 --unit 3 --profile acrel-ddsy1352 >/dev/null
sleep 1.5
equals "$(sql "SELECT count(*) FROM readings r JOIN meters m ON m.id = r.meter_id WHERE m.name = 'NEW'")" 0
kill -HUP $KWHD_PID
wait_for 10 at_least 2 "SELECT count(*) FROM readings r JOIN meters m ON m.id = r.meter_id WHERE m.name = 'NEW'" ||
  { cat "$T/kwhd.err" >&2; fail "the new meter was not polled after SIGHUP"; }
contains "$(cat "$T/kwhd.err")" "SIGHUP"
# The first meter kept its schedule through the reload.
kill -0 $KWHD_PID || fail "kwhd died on SIGHUP"
before=$(sql "SELECT count(*) FROM readings r JOIN meters m ON m.id = r.meter_id WHERE m.name = 'M1_1'")
wait_for 5 at_least $((before + 1)) "SELECT count(*) FROM readings r JOIN meters m ON m.id = r.meter_id WHERE m.name = 'M1_1'" ||
  fail "M1_1 no longer polled after SIGHUP"

# A configuration that became bad is refused; kwhd keeps running with the old one.
echo 'nonsense = 1' >>"$T/kwh.toml"
kill -HUP $KWHD_PID
wait_for 5 grep -q "configuration not reloaded" "$T/kwhd.err" || fail "bad configuration not reported"
kill -0 $KWHD_PID || fail "kwhd died on a bad configuration"
kill -TERM $KWHD_PID
wait $KWHD_PID || fail "kwhd did not exit 0"
