#!/usr/bin/env bash
# Counter resets: X's simulator resets a meter's energy counter to 0 with probability 0.15 per
# request. Proves: the resets happened; each step back in a meter's readings has exactly one
# counter_reset event, and charges nothing (the charges add up to the steps forward only, so a
# reset is never billed as consumption); balances are their ledgers; the healthy gateway kept
# its full rate.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
source "$KWH_SOURCE/tests/e2e/reliability_lib.sh"
fault_site 2 1 reset=0.15 --seed 3
fault_run
fault_happened "counter resets"
total=0
for m in "${X_METERS[@]}"; do
  back=$(sql "$STEPS SELECT count(*) FROM s WHERE meter_id = $(mid "$m") AND dv < 0")
  events=$(sql "SELECT count(*) FROM events WHERE meter_id = $(mid "$m") AND kind = 'counter_reset'")
  [ "$events" = "$back" ] || fail "$m: $back steps back in its readings, $events counter_reset events"
  total=$((total + back))
done
[ "$total" -gt 0 ] || fail "no reset is visible in X's readings"
equals "$(sql "SELECT count(*) FROM events WHERE kind = 'counter_reset' AND meter_id IN ($(mid H1), $(mid H2))")" 0
check_healthy
check_charged "${X_METERS[@]}"
