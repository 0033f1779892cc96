#!/usr/bin/env bash
# A silent gateway: X's simulator has two gateways, and the second accepts connections and never
# answers. Proves: the silent gateway's meters go offline with one event each, then the gateway
# with its own event; nothing is stored for them, and kwh meter list --status offline and
# kwhd's metrics show them; the first gateway of the same simulator and the healthy one were
# polled at full rate meanwhile, and charged exactly.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
source "$KWH_SOURCE/tests/e2e/reliability_lib.sh"
fault_site 4 2 silent-gateway=2
fault_run
# X1 X2 are on gx1 (answering), X3 X4 on gx2 (silent).
for m in X3 X4; do
  equals "$(sql "SELECT status FROM meters WHERE name = '$m'")" offline
  equals "$(sql "SELECT count(*) FROM events WHERE meter_id = $(mid $m) AND kind = 'meter_offline'")" 1
  equals "$(sql "SELECT count(*) FROM readings WHERE meter_id = $(mid $m)")" 0
done
equals "$(sql "SELECT count(*) FROM events WHERE kind = 'gateway_offline' AND gateway_id = (SELECT id FROM gateways WHERE name = 'gx2')")" 1
equals "$(sql "SELECT count(*) FROM events WHERE kind = 'gateway_offline' AND gateway_id != (SELECT id FROM gateways WHERE name = 'gx2')")" 0
equals "$(kwh meter list --status offline -q | sort | tr '\n' ' ')" "X3 X4 "
equals "$(metric 'kwh_meters{status="offline"}')" 2
check_rate 60 X1 X2
check_healthy
check_true_readings X1 X2
check_charged X1 X2
