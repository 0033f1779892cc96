#!/usr/bin/env bash
# Late replies: X's simulator sends a reply 1.5 s late (past kwhd's 300 ms timeout, while kwhd
# is already asking the next meter) with probability 0.3. Proves: the late replies reached
# kwhd and it dropped them; no late reply was taken for a new one (no reading out of order, no
# step back and no counter_reset event, none above what the load can draw); every Wh counted is
# charged once; offline and online events alternate; the healthy gateway kept its full rate.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
source "$KWH_SOURCE/tests/e2e/reliability_lib.sh"
fault_site 3 1 late=0.3,late-by=1500ms --seed 11
fault_run
fault_happened late
[ "$(metric kwh_stale_replies_total)" -gt 0 ] || fail "kwhd dropped no late reply: $METRICS"
check_healthy
check_true_readings "${X_METERS[@]}"
check_charged "${X_METERS[@]}"
check_events_alternate "${X_METERS[@]}"
