#!/usr/bin/env bash
# Dropped replies: X's simulator answers no request with probability 0.3 (kwhd: 300 ms timeout,
# no retries, offline after 2 failed polls). Proves: the drops happened and kwhd counted them as
# timeouts; X's meters still gave readings, each one true (none zero, none back, none above
# what the load can draw); every Wh they counted is charged once, across the gaps; their offline
# and online events alternate; and the healthy gateway was polled at full rate meanwhile.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
source "$KWH_SOURCE/tests/e2e/reliability_lib.sh"
fault_site 3 1 drop=0.3 --seed 7
fault_run
fault_happened dropped
[ "$(metric 'kwh_polls_total{result="timeout"}')" -gt 0 ] || fail "kwhd counted no timeout: $METRICS"
check_rate 30 "${X_METERS[@]}"
check_healthy
check_true_readings "${X_METERS[@]}"
check_charged "${X_METERS[@]}"
check_events_alternate "${X_METERS[@]}"
