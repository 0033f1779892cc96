#!/usr/bin/env bash
# Exception replies: X's simulator answers with Modbus exception 4 (server device failure) with
# probability 0.3. Proves: the exceptions happened and kwhd counted them; nothing was stored
# from them (every reading true: none zero, none back, none above what the load can draw);
# every Wh counted is charged once; events alternate; the healthy gateway kept its full rate.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
source "$KWH_SOURCE/tests/e2e/reliability_lib.sh"
fault_site 3 1 exception=0.3 --seed 5
fault_run
fault_happened "exception replies"
[ "$(metric 'kwh_polls_total{result="exception"}')" -gt 0 ] || fail "kwhd counted no exception reply: $METRICS"
check_healthy
check_true_readings "${X_METERS[@]}"
check_charged "${X_METERS[@]}"
check_events_alternate "${X_METERS[@]}"
