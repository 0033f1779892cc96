#!/usr/bin/env bash
# kwhd against three simulators at once (3600x speed, 2 kW per meter, flat 1.00/kWh):
#   H: healthy, 1 gateway, 2 meters;
#   L: gateway 1 with late, dropped, exception and garbage replies (3 meters), gateway 2 silent
#      (2 meters);
#   R: counter resets (2 meters).
# Proves: H is polled at full rate meanwhile (a reading nearly every second, no gap > 2 s);
# the silent gateway's meters go offline with events; a late reply is never taken for a new one
# (L's readings never go back, no counter_reset on L, no step above what the load can draw);
# garbage and exception replies store nothing (no zero reading anywhere); a counter reset writes
# a counter_reset event and charges nothing for it (no charge above what the load can draw).
# The simulators' own counts show that each fault really happened, and kwhd's metrics that late
# replies reached it and were dropped.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
RUN_S=${RUN_S:-10}
kwh init >/dev/null
start_sim 2 1 --speed 3600 --load-w 2000;  H=$SIM_PORT
start_sim 5 2 --speed 3600 --load-w 2000 --seed 85 \
  --faults late=0.3,late-by=1500ms,drop=0.1,exception=0.1,garbage=0.05,silent-gateway=2;  L=$SIM_PORT
# Seed 85 draws each of L's faults at least twice within its first 18 answered requests.
L_PID=$SIM_PID L_OUT=$SIM_OUT
start_sim 2 1 --speed 3600 --load-w 2000 --seed 3 --faults reset=0.15;  R=$SIM_PORT
R_PID=$SIM_PID R_OUT=$SIM_OUT
kwh gateway add gh --tcp "127.0.0.1:$H" --timeout-ms 300 >/dev/null
kwh gateway add gl --tcp "127.0.0.1:$L" --timeout-ms 300 >/dev/null
kwh gateway add gs --tcp "127.0.0.1:$((L + 1))" --timeout-ms 300 >/dev/null
kwh gateway add gr --tcp "127.0.0.1:$R" --timeout-ms 300 >/dev/null
for u in 1 2; do kwh meter add "H$u" --gateway gh --unit $u --profile acrel-ddsy1352 >/dev/null; done
for u in 1 2 3; do kwh meter add "L$u" --gateway gl --unit $u --profile acrel-ddsy1352 >/dev/null; done
# Meters 4 and 5 of that simulator are units 1 and 2 of its (silent) second gateway.
for u in 1 2; do kwh meter add "S$u" --gateway gs --unit $u --profile acrel-ddsy1352 >/dev/null; done
for u in 1 2; do kwh meter add "R$u" --gateway gr --unit $u --profile acrel-ddsy1352 >/dev/null; done
kwh tariff add flat --flat 1.0000 >/dev/null
for m in H1 L1 L2 R1 R2; do
  kwh account open "A$m" --name "Shop $m" --tariff flat --meter "$m" >/dev/null
  kwh sell "A$m" 100000 >/dev/null
done
MP=$(free_port)
write_config '[billing]' 'max_power_w = 100000000' '[metrics]' "listen = \"127.0.0.1:$MP\""
start_kwhd
t0=$(date +%s)
sleep "$RUN_S"
t1=$(date +%s)
stale=$(/usr/bin/python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$MP/metrics', timeout=5).read().decode())" \
  | awk '$1 == "kwh_stale_replies_total" { print $2 }')
kill -TERM "$KWHD_PID"; wait "$KWHD_PID" 2>/dev/null || true
L_SUMMARY=$(stop_sim "$L_PID" "$L_OUT")
R_SUMMARY=$(stop_sim "$R_PID" "$R_OUT")
echo "$L_SUMMARY"; echo "$R_SUMMARY"; echo "kwhd: $stale stale replies dropped"

# Each fault happened: late, dropped, exception and garbage replies on L, resets on R; and late
# replies reached kwhd, which dropped them (never taking one for a later request's answer).
for what in late dropped "exception replies" "garbage replies"; do
  [ "$(fault_count "$L_SUMMARY" "$what")" -gt 0 ] || fail "the simulator sent no $what: $L_SUMMARY"
done
[ "$(fault_count "$R_SUMMARY" "counter resets")" -gt 0 ] || fail "the simulator reset no counter: $R_SUMMARY"
[ "${stale:-0}" -gt 0 ] || fail "kwhd dropped no late reply (kwh_stale_replies_total ${stale:-missing})"
id() { sql "SELECT id FROM meters WHERE name = '$1'"; }

# Healthy gateway: full rate. Allow for the first cycle and a loaded machine.
for m in H1 H2; do
  n=$(sql "SELECT count(*) FROM readings WHERE meter_id = $(id $m)")
  [ "$n" -ge $(( (t1 - t0) * 6 / 10 )) ] || fail "healthy meter $m: $n readings in $((t1 - t0)) s"
  gap=$(sql "SELECT max(gap) FROM (SELECT t - lag(t) OVER (ORDER BY t) AS gap FROM readings WHERE meter_id = $(id $m))")
  [ "${gap:-0}" -le 2 ] || fail "healthy meter $m: a gap of $gap s between readings"
done

# Silent gateway: its meters offline, with events; nothing stored for them.
for m in S1 S2; do
  equals "$(sql "SELECT status FROM meters WHERE name = '$m'")" offline
  at_least 1 "SELECT count(*) FROM events WHERE kind = 'meter_offline' AND meter_id = $(id $m)" || fail "no meter_offline event for $m"
  equals "$(sql "SELECT count(*) FROM readings WHERE meter_id = $(id $m)")" 0
done
at_least 1 "SELECT count(*) FROM events WHERE kind = 'gateway_offline' AND gateway_id = (SELECT id FROM gateways WHERE name = 'gs')" \
  || fail "no gateway_offline event for the silent gateway"

# Nothing stored from garbage, exception or missing replies: no zero readings (except on R,
# whose counters really are reset to 0).
R_IDS="$(id R1),$(id R2)"
equals "$(sql "SELECT count(*) FROM readings WHERE value = 0 AND meter_id NOT IN ($R_IDS)")" 0

# Steps between readings: never backwards on L (no resets there), never above what 2 kW +20%
# (at 3600x: 2 400 Wh per second) can draw, with margin 1.5.
steps="WITH s AS (SELECT meter_id, value - lag(value) OVER w AS dv, t - lag(t) OVER w AS dt
  FROM readings WINDOW w AS (PARTITION BY meter_id ORDER BY t))"
L_IDS="$(id L1),$(id L2),$(id L3)"
at_least 3 "SELECT count(*) FROM readings WHERE meter_id IN ($L_IDS)" || fail "the faulty gateway gave no readings at all"
equals "$(sql "$steps SELECT count(*) FROM s WHERE meter_id IN ($L_IDS) AND dv < 0")" 0
equals "$(sql "$steps SELECT count(*) FROM s WHERE dv > 3600 * dt")" 0
equals "$(sql "SELECT count(*) FROM events WHERE kind = 'counter_reset' AND meter_id IN ($L_IDS)")" 0

# Resets: at least one counter_reset event on R, and no charge above what the load could draw
# (1 Wh = 0.1 minor units at 1.00/kWh) — a reset charged as consumption would be far above.
at_least 1 "SELECT count(*) FROM events WHERE kind = 'counter_reset' AND meter_id IN ($R_IDS)" \
  || { sql "SELECT meter_id, t, value FROM readings WHERE meter_id IN ($R_IDS)" >&2; fail "no counter_reset event"; }
at_least 1 "$steps SELECT count(*) FROM s WHERE meter_id IN ($R_IDS) AND dv < 0" || fail "no reset is visible in R's readings"
equals "$(sql "SELECT count(*) FROM ledger WHERE kind = 'charge' AND -amount > 3600 * (t1 - t0) / 10 + 1")" 0
at_least 1 "SELECT count(*) FROM ledger WHERE kind = 'charge' AND meter_id IN ($R_IDS)" || fail "R was never charged"
# Every balance is still its ledger.
expect_exit 0 kwh check
