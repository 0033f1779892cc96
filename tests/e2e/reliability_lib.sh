# The field-fault tests' site (sourced after lib.sh and daemon_lib.sh): one kwhd polling, every
# second, a healthy simulator H (gateway gh, meters H1 H2) and a faulty one X (gateways gx1..,
# meters X1..Xn), each meter on its own prepaid account on a flat 1.00/kWh tariff with plenty of
# credit. Time runs 3600x faster and every load is 2 kW, so each reading has moved.
need_sqlite3
RUN_S=${RUN_S:-8}

# fault_site METERS GATEWAYS FAULTS [SIM ARGS...]: the site; X's simulator injects FAULTS
# (kwh sim --faults). Sets X_METERS (their names) and MP (kwhd's metrics port).
fault_site() {
  local n=$1 k=$2 faults=$3 g u i=0 per
  shift 3
  per=$(((n + k - 1) / k))
  kwh init >/dev/null
  start_sim 2 1 --speed 3600 --load-w 2000
  kwh gateway add gh --tcp "127.0.0.1:$SIM_PORT" --timeout-ms 300 >/dev/null
  start_sim "$n" "$k" --speed 3600 --load-w 2000 --faults "$faults" "$@"
  X_PID=$SIM_PID X_OUT=$SIM_OUT
  kwh tariff add flat --flat 1.0000 >/dev/null
  for u in 1 2; do kwh meter add "H$u" --gateway gh --unit "$u" --profile acrel-ddsy1352 >/dev/null; done
  X_METERS=()
  for ((g = 1; g <= k; g++)); do
    kwh gateway add "gx$g" --tcp "127.0.0.1:$((SIM_PORT + g - 1))" --timeout-ms 300 >/dev/null
    for ((u = 1; u <= per && i < n; u++)); do
      i=$((i + 1))
      kwh meter add "X$i" --gateway "gx$g" --unit "$u" --profile acrel-ddsy1352 >/dev/null
      X_METERS+=("X$i")
    done
  done
  for m in H1 H2 "${X_METERS[@]}"; do
    kwh account open "A$m" --name "Shop $m" --tariff flat --meter "$m" >/dev/null
    kwh sell "A$m" 100000 >/dev/null
  done
  MP=$(free_port)
  write_config '[billing]' 'max_power_w = 100000000' '[metrics]' "listen = \"127.0.0.1:$MP\""
}

# fault_run: kwhd for RUN_S seconds, stopped with SIGTERM. Sets T0 and T1 (when it ran),
# METRICS (its /metrics just before it stopped) and X_SUMMARY (what X's simulator did).
fault_run() {
  start_kwhd
  T0=$(date +%s)
  sleep "$RUN_S"
  T1=$(date +%s)
  METRICS=$(/usr/bin/python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$MP/metrics', timeout=5).read().decode())")
  kill -TERM "$KWHD_PID"
  wait "$KWHD_PID" 2>/dev/null || true
  stop_sim "$X_PID" "$X_OUT"
  X_SUMMARY=$SIM_SUMMARY
  echo "$X_SUMMARY"
}

# metric NAME: the value of one sample in METRICS, such as 'kwh_polls_total{result="timeout"}' (0 if absent).
metric() { printf '%s\n' "$METRICS" | awk -v k="$1" '$1 == k { print $2 }' | grep . || echo 0; }

mid() { sql "SELECT id FROM meters WHERE name = '$1'"; }

# The steps between one meter's readings (meter_id, dv in Wh, dt in s).
STEPS="WITH s AS (SELECT meter_id, value - lag(value) OVER w AS dv, t - lag(t) OVER w AS dt
  FROM readings WINDOW w AS (PARTITION BY meter_id ORDER BY t))"

# check_rate PERCENT METER...: each meter has a reading for at least PERCENT of the seconds
# kwhd ran, and (at full rate, 60 or more) no gap over 2 s between two of them.
check_rate() {
  local pct=$1 m n gap
  shift
  for m in "$@"; do
    n=$(sql "SELECT count(*) FROM readings WHERE meter_id = $(mid "$m")")
    [ "$n" -ge $(((T1 - T0) * pct / 100)) ] || fail "meter $m: $n readings in $((T1 - T0)) s, under $pct%"
    [ "$pct" -lt 60 ] && continue
    gap=$(sql "SELECT max(gap) FROM (SELECT t - lag(t) OVER (ORDER BY t) AS gap FROM readings WHERE meter_id = $(mid "$m"))")
    [ "${gap:-0}" -le 2 ] || fail "meter $m: a gap of $gap s between readings"
  done
}

# check_healthy: H was polled at full rate all along (a reading nearly every second, no gap
# over 2 s), with no offline event for it or its gateway.
check_healthy() {
  local m
  check_rate 60 H1 H2
  for m in H1 H2; do
    equals "$(sql "SELECT count(*) FROM events WHERE meter_id = $(mid $m) AND kind = 'meter_offline'")" 0
  done
  equals "$(sql "SELECT count(*) FROM events WHERE gateway_id = (SELECT id FROM gateways WHERE name = 'gh') AND kind = 'gateway_offline'")" 0
}

# check_true_readings METER...: every stored reading is one the meter really gave, in order:
# some readings, none zero, never a step back (no counter_reset event either: a late reply taken
# for a new one would be one), never a step above what 2 kW +20% can draw at 3600x (2 400 Wh a
# second), with margin.
check_true_readings() {
  local m id
  for m in "$@"; do
    id=$(mid "$m")
    at_least 2 "SELECT count(*) FROM readings WHERE meter_id = $id" || fail "$m gave almost no readings"
    equals "$(sql "SELECT count(*) FROM readings WHERE meter_id = $id AND value = 0")" 0
    equals "$(sql "$STEPS SELECT count(*) FROM s WHERE meter_id = $id AND dv < 0")" 0
    equals "$(sql "$STEPS SELECT count(*) FROM s WHERE meter_id = $id AND dv > 3600 * dt")" 0
    equals "$(sql "SELECT count(*) FROM events WHERE meter_id = $id AND kind = 'counter_reset'")" 0
  done
}

# check_charged METER...: every Wh a meter counted is charged once: the charges' quantities add
# up to the sum of its readings' steps forward (a step back, a reset, charges nothing); and
# every balance is its ledger.
check_charged() {
  local m id counted charged
  for m in "$@"; do
    id=$(mid "$m")
    counted=$(sql "$STEPS SELECT coalesce(sum(dv), 0) FROM s WHERE meter_id = $id AND dv > 0")
    charged=$(sql "SELECT coalesce(sum(quantity), 0) FROM charges WHERE meter_id = $id")
    [ "$counted" -gt 0 ] || fail "$m counted nothing"
    [ "$charged" = "$counted" ] || fail "$m: $charged Wh charged, $counted Wh counted"
  done
  expect_exit 0 kwh check
}

# check_events_alternate METER...: a meter's offline and online events alternate (one for each
# change, never two offline in a row).
check_events_alternate() {
  local m
  for m in "$@"; do
    equals "$(sql "SELECT count(*) FROM (SELECT kind, lag(kind) OVER (ORDER BY id) AS before FROM events
      WHERE meter_id = $(mid "$m") AND kind IN ('meter_offline', 'meter_online')) WHERE kind = before")" 0
  done
}

# fault_happened WHAT: X's simulator names WHAT ("dropped", "late", ...) in its summary.
fault_happened() { [ "$(fault_count "$X_SUMMARY" "$1")" -gt 0 ] || fail "the simulator sent no $1: $X_SUMMARY"; }
