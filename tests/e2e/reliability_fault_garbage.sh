#!/usr/bin/env bash
# Garbage: X's simulator sends random bytes instead of a reply with probability 0.3. Proves:
# the garbage was sent and kwhd counted it as bad frames; the bus recovered each time (X's
# meters kept giving readings); nothing was stored from garbage (every reading true: none
# zero, none back, none above what the load can draw); every Wh counted is charged once; events
# alternate; the healthy gateway kept its full rate.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
source "$KWH_SOURCE/tests/e2e/reliability_lib.sh"
fault_site 3 1 garbage=0.3 --seed 9
fault_run
fault_happened "garbage replies"
[ "$(metric 'kwh_polls_total{result="bad_frame"}')" -gt 0 ] || fail "kwhd counted no bad frame: $METRICS"
check_rate 30 "${X_METERS[@]}"
check_healthy
check_true_readings "${X_METERS[@]}"
check_charged "${X_METERS[@]}"
check_events_alternate "${X_METERS[@]}"
