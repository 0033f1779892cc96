#!/usr/bin/env bash
# A meter that flaps (the simulator's flap fault: it answers for 3 s, then is silent for 3 s,
# over and over) next to two healthy ones on the same gateway, kwhd polling every second with
# offline_after = 2. Proves:
# - the flapping meter goes offline and online again, more than once, with one event for each
#   change (offline and online alternate), each offline event ended by the online one after it;
# - the healthy meters stay online at full rate with no event, and the gateway stays online;
# - every Wh a meter counted is charged exactly once: the charges' quantities add up to its last
#   reading minus its first, across the silent gaps too; and every balance is its ledger.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
RUN_S=${RUN_S:-16}
kwh init >/dev/null
start_sim 3 1 --speed 3600 --load-w 2000 --faults flap=2,flap-period=3s
kwh gateway add g --tcp "127.0.0.1:$SIM_PORT" --timeout-ms 300 >/dev/null
kwh tariff add flat --flat 1.0000 >/dev/null
for u in 1 2 3; do
  kwh meter add "F$u" --gateway g --unit "$u" --profile acrel-ddsy1352 >/dev/null
  kwh account open "A$u" --name "Shop $u" --tariff flat --meter "F$u" >/dev/null
  kwh sell "A$u" 100000 >/dev/null
done
write_config '[billing]' 'max_power_w = 100000000'
start_kwhd
t0=$(date +%s)
sleep "$RUN_S"
t1=$(date +%s)
kill -TERM "$KWHD_PID"; wait "$KWHD_PID" 2>/dev/null || true
SUMMARY=$(stop_sim "$SIM_PID" "$SIM_OUT")
echo "$SUMMARY"
[ "$(fault_count "$SUMMARY" unanswered)" -gt 0 ] || fail "the flapping meter was never silent: $SUMMARY"
id() { sql "SELECT id FROM meters WHERE name = '$1'"; }
F2=$(id F2)

# The flapping meter: offline and back, more than once, one event per change.
offline=$(sql "SELECT count(*) FROM events WHERE meter_id = $F2 AND kind = 'meter_offline'")
online=$(sql "SELECT count(*) FROM events WHERE meter_id = $F2 AND kind = 'meter_online'")
[ "$offline" -ge 2 ] || fail "F2 went offline $offline time(s) in $((t1 - t0)) s of flapping"
[ "$online" -ge "$offline" ] || fail "F2: $offline offline events but only $online online ones"
equals "$(sql "SELECT count(*) FROM (SELECT kind, lag(kind) OVER (ORDER BY id) AS before FROM events
  WHERE meter_id = $F2 AND kind IN ('meter_offline', 'meter_online')) WHERE kind = before")" 0
# Every offline event but a last one still open has ended, at the online event that followed.
equals "$(sql "SELECT count(*) FROM events e WHERE meter_id = $F2 AND kind = 'meter_offline' AND
  id < (SELECT max(id) FROM events WHERE meter_id = $F2 AND kind = 'meter_offline') AND
  (ended IS NULL OR ended != (SELECT min(time) FROM events o WHERE o.meter_id = $F2 AND o.kind = 'meter_online' AND o.id > e.id))")" 0

# The healthy meters: a reading nearly every second, no event but their first online.
for m in F1 F3; do
  n=$(sql "SELECT count(*) FROM readings WHERE meter_id = $(id $m)")
  [ "$n" -ge $(( (t1 - t0) * 6 / 10 )) ] || fail "healthy meter $m: $n readings in $((t1 - t0)) s"
  gap=$(sql "SELECT max(gap) FROM (SELECT t - lag(t) OVER (ORDER BY t) AS gap FROM readings WHERE meter_id = $(id $m))")
  [ "${gap:-0}" -le 2 ] || fail "healthy meter $m: a gap of $gap s between readings"
  equals "$(sql "SELECT count(*) FROM events WHERE meter_id = $(id $m) AND kind = 'meter_offline'")" 0
done
equals "$(sql "SELECT count(*) FROM events WHERE kind = 'gateway_offline'")" 0

# Every Wh once: charged quantity = last reading - first reading, for each meter.
for m in F1 F2 F3; do
  counted=$(sql "SELECT max(value) - min(value) FROM readings WHERE meter_id = $(id $m)")
  charged=$(sql "SELECT coalesce(sum(quantity), 0) FROM ledger WHERE kind = 'charge' AND meter_id = $(id $m)")
  [ "$counted" -gt 0 ] || fail "$m counted nothing"
  equals "$charged" "$counted"
done
expect_exit 0 kwh check
