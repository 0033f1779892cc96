#!/usr/bin/env bash
# A meter that flaps: X's simulator makes X2 answer for 3 s, then stay silent for 3 s, over and
# over, next to X1 and X3 on the same gateway (kwhd polls every second, offline after 2 failed
# polls). Proves:
# - X2 goes offline and online again, more than once, with one event for each change (offline
#   and online alternate), each offline event ended by the online one after it;
# - X1, X3 and the healthy gateway stay online at full rate with no event, and X's gateway
#   stays online;
# - every Wh a meter counted is charged exactly once, across X2's silent gaps too; and every
#   balance is its ledger.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
RUN_S=${RUN_S:-16}
source "$KWH_SOURCE/tests/e2e/reliability_lib.sh"
fault_site 3 1 flap=2,flap-period=3s
fault_run
fault_happened unanswered
X2=$(mid X2)

# The flapping meter: offline and back, more than once, one event per change.
offline=$(sql "SELECT count(*) FROM events WHERE meter_id = $X2 AND kind = 'meter_offline'")
online=$(sql "SELECT count(*) FROM events WHERE meter_id = $X2 AND kind = 'meter_online'")
[ "$offline" -ge 2 ] || fail "X2 went offline $offline time(s) in $((T1 - T0)) s of flapping"
[ "$online" -ge "$offline" ] || fail "X2: $offline offline events but only $online online ones"
check_events_alternate X2
# Every offline event but a last one still open has ended, at the online event that followed.
equals "$(sql "SELECT count(*) FROM events e WHERE meter_id = $X2 AND kind = 'meter_offline' AND
  id < (SELECT max(id) FROM events WHERE meter_id = $X2 AND kind = 'meter_offline') AND
  (ended IS NULL OR ended != (SELECT min(time) FROM events o WHERE o.meter_id = $X2 AND o.kind = 'meter_online' AND o.id > e.id))")" 0

# Its neighbours on the same bus: a reading nearly every second, no offline event.
check_rate 60 X1 X3
for m in X1 X3; do
  equals "$(sql "SELECT count(*) FROM events WHERE meter_id = $(mid $m) AND kind = 'meter_offline'")" 0
done
equals "$(sql "SELECT count(*) FROM events WHERE kind = 'gateway_offline'")" 0
check_healthy
check_true_readings "${X_METERS[@]}"
check_charged "${X_METERS[@]}"
