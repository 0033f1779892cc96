#!/usr/bin/env bash
# Delays: every reply of X's simulator waits 450 ms, past kwhd's 300 ms timeout; every reply of
# a third simulator Y waits 100 ms, within it. Proves: X's meters and gateway go offline with
# their events and nothing is stored for them, the replies that came too late reached kwhd and
# were dropped (never taken for the answer to a later request); Y's slow meters are read at
# full rate and charged exactly; and the healthy gateway was polled at full rate meanwhile.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
source "$KWH_SOURCE/tests/e2e/reliability_lib.sh"
fault_site 2 1 delay=450ms
start_sim 2 1 --speed 3600 --load-w 2000 --faults delay=100ms
kwh gateway add gy --tcp "127.0.0.1:$SIM_PORT" --timeout-ms 300 >/dev/null
for u in 1 2; do
  kwh meter add "Y$u" --gateway gy --unit "$u" --profile acrel-ddsy1352 >/dev/null
  kwh account open "AY$u" --name "Shop Y$u" --tariff flat --meter "Y$u" >/dev/null
  kwh sell "AY$u" 100000 >/dev/null
done
fault_run
[ "$(metric 'kwh_polls_total{result="timeout"}')" -gt 0 ] || fail "kwhd counted no timeout: $METRICS"
[ "$(metric kwh_stale_replies_total)" -gt 0 ] || fail "no late reply reached kwhd: $METRICS"
for m in "${X_METERS[@]}"; do
  equals "$(sql "SELECT status FROM meters WHERE name = '$m'")" offline
  equals "$(sql "SELECT count(*) FROM events WHERE meter_id = $(mid "$m") AND kind = 'meter_offline'")" 1
  equals "$(sql "SELECT count(*) FROM readings WHERE meter_id = $(mid "$m")")" 0
done
equals "$(sql "SELECT count(*) FROM events WHERE kind = 'gateway_offline' AND gateway_id = (SELECT id FROM gateways WHERE name = 'gx1')")" 1
equals "$(kwh meter list --status offline -q | sort | tr '\n' ' ')" "X1 X2 "
check_rate 60 Y1 Y2
check_healthy
check_true_readings Y1 Y2
check_charged Y1 Y2
