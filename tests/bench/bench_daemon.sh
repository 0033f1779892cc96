#!/usr/bin/env bash
# kwhd against kwh sim with 2 000 meters on 10 gateways (loopback), and collectd's modbus
# plugin reading the same energy registers from the same simulator, one after the other:
#   - wall time of one `kwhd --once` cycle (all 2 000 meters polled, stored and billed);
#   - readings stored per CPU-second of kwhd while polling every second (kwhd's utime+stime
#     from /proc/PID/stat over the measuring window, readings counted in the database);
#   - collectd (modbus + csv, Interval 1, the same 2 000 meters, energy_total only) as
#     values read per CPU-second, and the ratio;
#   - kwhd's peak RSS (VmHWM).
# The three runs take turns, ROUNDS times (default 2), so that a machine whose speed drifts (a
# shared VM) drifts for all of them alike; each figure is the sum over its rounds.
# Usage: bench_daemon.sh KWH KWHD [SECONDS=30]. Figures go to stdout; nothing here passes or
# fails on them (targets: ratio >= 3 with the same register, --once < 2 s, RSS < 64 MB).
set -euo pipefail
KWH=${1:-${KWH:?}}
KWHD=${2:-${KWHD:?}}
WINDOW=${3:-30}
ROUNDS=${ROUNDS:-2}
METERS=2000
GATEWAYS=10
PER=$((METERS / GATEWAYS))

T=$(mktemp -d "${TMPDIR:-/tmp}/kwh-bench-daemon.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $T" >&2 || rm -rf "$T"
}
trap cleanup EXIT
export KWH_DB="$T/kwh.db"
unset KWH_CONFIG NOTIFY_SOCKET

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ticks_per_s=$(getconf CLK_TCK)
sql() { sqlite3 -cmd '.timeout 10000' "$KWH_DB" "$@"; }

"$KWH" init >/dev/null
"$KWH" sim --meters $METERS --gateways $GATEWAYS --listen 127.0.0.1:0 >"$T/sim.out" 2>"$T/sim.err" &
pids+=($!)
for _ in $(seq 100); do grep -q '127.0.0.1:[0-9]' "$T/sim.out" 2>/dev/null && break; sleep 0.1; done
port=$(grep -o '127.0.0.1:[0-9]*' "$T/sim.out" | head -1 | cut -d: -f2)
[ -n "$port" ] || { cat "$T/sim.err" >&2; exit 1; }

# The site, straight into the database (2 000 `kwh meter add` would dominate the run).
for ((g = 1; g <= GATEWAYS; g++)); do
  "$KWH" gateway add "g$g" --tcp "127.0.0.1:$((port + g - 1))" --timeout-ms 500 >/dev/null
done
sql "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $METERS)
     INSERT INTO meters(name, gateway_id, unit, profile, kind, created)
     SELECT printf('M%04d', i + 1), (SELECT id FROM gateways WHERE name = 'g' || (i / $PER + 1)), i % $PER + 1,
            'acrel-ddsy1352', 'electricity', strftime('%s', 'now') FROM n"
printf '[poll]\ninterval = "1s"\ntimeout = "500ms"\nretries = 1\n' >"$T/kwh.toml"
chmod 644 "$T/kwh.toml"

echo "kwhd benchmark: $METERS meters on $GATEWAYS gateways of kwh sim (loopback), profile acrel-ddsy1352"
echo

# 1. --once, three times (the first stores baselines, the next ones bill).
# Each run starts at a fresh second: --once stamps readings with the second it started, and a
# meter has one reading per second.
for run in 1 2 3; do
  /usr/bin/python3 -c 'import time; time.sleep(1.01 - time.time() % 1)'
  start=$(date +%s%N)
  "$KWHD" --config "$T/kwh.toml" --once 2>"$T/once.err"
  ms=$((($(date +%s%N) - start) / 1000000))
  echo "kwhd --once, run $run: $(printf '%d.%03d' $((ms / 1000)) $((ms % 1000))) s wall"
done
echo "  readings stored by the --once runs: $(sql 'SELECT count(*) FROM readings') (expected $((3 * METERS)))"
echo

# 2. kwhd polling every second: with the full profile (9 values, one planned request), then
# with a profile of energy_total only (the one u32 register collectd reads); 3. collectd.
printf 'name = "bench-energy"\nkind = "electricity"\n[values.energy_total]\ntable = "holding"\naddress = 0\ntype = "u32"\nscale = 10\n' \
  >"$T/energy.toml"
declare -A got_n got_cpu got_wall
measure() { # LABEL PID COUNTER: what COUNTER counts and PID's CPU over WINDOW s, added to got_*[LABEL]
  local label=$1 pid=$2 counter=$3 n0 c0 s0 n1 c1 s1
  n0=$($counter); c0=$(cpu_ticks "$pid"); s0=$(date +%s%N)
  sleep "$WINDOW"
  n1=$($counter); c1=$(cpu_ticks "$pid"); s1=$(date +%s%N)
  got_n[$label]=$(( ${got_n[$label]:-0} + n1 - n0 ))
  got_cpu[$label]=$(( ${got_cpu[$label]:-0} + c1 - c0 ))
  got_wall[$label]=$(( ${got_wall[$label]:-0} + (s1 - s0) / 1000000 ))
}
count_readings() { sql 'SELECT count(*) FROM readings'; }
kwhd_run() { # LABEL PROFILE
  sql "UPDATE meters SET profile = '$2'"
  "$KWHD" --config "$T/kwh.toml" 2>"$T/kwhd.err" &
  local kpid=$!
  pids+=($kpid)
  sleep 3
  measure "$1" $kpid count_readings
  local hwm
  hwm=$(awk '/VmHWM/ { print $2 }' /proc/$kpid/status)
  [ "$hwm" -gt "${peak_kb:-0}" ] && peak_kb=$hwm
  skipped=$(( ${skipped:-0} + $(sed -n 's/.* \([0-9]*\) polls skipped.*/\1/p' "$T/kwhd.err" | awk '{ n += $1 } END { print n + 0 }') ))
  kill -TERM $kpid
  wait $kpid || true
}
have_collectd=1
if ! command -v collectd >/dev/null || [ ! -f /usr/lib/collectd/modbus.so ]; then have_collectd=0; fi
mkdir -p "$T/csv"
{
  echo "Interval 1"
  echo "ReadThreads $GATEWAYS"
  echo "TypesDB \"/usr/share/collectd/types.db\""
  echo "PIDFile \"$T/collectd.pid\""
  echo "BaseDir \"$T\""
  echo "LoadPlugin modbus"
  echo "LoadPlugin csv"
  echo "<Plugin csv>"
  echo "  DataDir \"$T/csv\""
  echo "  StoreRates false"
  echo "</Plugin>"
  echo "<Plugin modbus>"
  echo "  <Data \"energy_total\">"
  echo "    RegisterBase 0"
  echo "    RegisterType Uint32"
  echo "    RegisterCmd ReadHolding"
  echo "    Type \"gauge\""
  echo "    Instance \"energy_total\""
  echo "  </Data>"
  for ((g = 1; g <= GATEWAYS; g++)); do
    echo "  <Host \"g$g\">"
    echo "    Address \"127.0.0.1\""
    echo "    Port \"$((port + g - 1))\""
    echo "    Interval 1"
    for ((u = 1; u <= PER; u++)); do
      echo "    <Slave $u>"
      echo "      Instance \"m$u\""
      echo "      Collect \"energy_total\""
      echo "    </Slave>"
    done
    echo "  </Host>"
  done
  echo "</Plugin>"
} >"$T/collectd.conf"
count_collectd() { find "$T/csv" -type f -exec cat {} + 2>/dev/null | grep -vc '^epoch' || true; }
collectd_run() {
  collectd -f -C "$T/collectd.conf" >"$T/collectd.out" 2>&1 &
  local cpid=$!
  pids+=($cpid)
  sleep 3
  measure collectd $cpid count_collectd
  kill -TERM $cpid
  wait $cpid || true
}
for ((round = 1; round <= ROUNDS; round++)); do
  kwhd_run full acrel-ddsy1352
  kwhd_run energy "$T/energy.toml"
  [ $have_collectd = 1 ] && collectd_run
  echo "round $round of $ROUNDS done" >&2
done

rate() { echo "scale=1; ${got_n[$1]} * $ticks_per_s / ${got_cpu[$1]}" | bc; }
report() { # LABEL TITLE NOUN
  local wall_s cpu_s
  wall_s=$(echo "scale=1; ${got_wall[$1]} / 1000" | bc)
  cpu_s=$(echo "scale=2; ${got_cpu[$1]} / $ticks_per_s" | bc)
  echo "$2, $ROUNDS x $WINDOW s ($wall_s s):"
  echo "  $3: ${got_n[$1]} ($(echo "scale=1; ${got_n[$1]} * 1000 / ${got_wall[$1]}" | bc) per second; $METERS meters)"
  echo "  CPU: $cpu_s s ($(echo "scale=1; 100 * ${got_cpu[$1]} * 1000 / $ticks_per_s / ${got_wall[$1]}" | bc)% of one core)"
  echo "  $3 per CPU-second: $(rate "$1")"
}
report full "kwhd polling every second, profile acrel-ddsy1352 (9 values)" "readings stored and billed"
report energy "kwhd polling every second, energy_total only" "readings stored and billed"
echo "kwhd peak RSS (VmHWM): $((peak_kb / 1024)) MB ($peak_kb kB); polls skipped (cycle overran): $skipped"
echo
if [ $have_collectd = 0 ]; then
  echo "collectd: not installed (apt-get install collectd-core, or tools/kwh-dev bench); no comparison"
  exit 0
fi
report collectd "collectd $(collectd -h 2>&1 | sed -n 's/.*collectd \([0-9.]*\).*/\1/p' | head -1) modbus + csv, Interval 1" "values read and written"
if [ "${got_n[collectd]}" -gt 0 ]; then
  echo
  echo "kwhd / collectd, readings per CPU-second: $(echo "scale=2; $(rate energy) / $(rate collectd)" | bc) with the same register" \
       "(energy_total only), $(echo "scale=2; $(rate full) / $(rate collectd)" | bc) with kwhd reading its full profile"
else
  echo "  collectd stored nothing; its log:"
  tail -5 "$T/collectd.out"
fi
