#!/usr/bin/env bash
# kwhd against kwh sim with 2 000 meters on 10 gateways (loopback), and collectd's modbus
# plugin reading the same energy registers from the same simulator, one after the other:
#   - wall time of one `kwhd --once` cycle (all 2 000 meters polled, stored and billed);
#   - readings stored per CPU-second of kwhd while polling every second (kwhd's utime+stime
#     from /proc/PID/stat over the measuring window, readings counted in the database);
#   - collectd (modbus + csv, Interval 1, the same 2 000 meters, energy_total only) as
#     values read per CPU-second, and the ratio;
#   - kwhd's peak RSS (VmHWM).
# Usage: bench_daemon.sh KWH KWHD [SECONDS]. Figures go to stdout; nothing here passes or fails
# on them (targets: ratio >= 2, --once < 2 s, RSS < 64 MB).
set -euo pipefail
KWH=${1:-${KWH:?}}
KWHD=${2:-${KWHD:?}}
WINDOW=${3:-20}
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
# with a profile of energy_total only (the one u32 register collectd reads).
poll_run() { # LABEL
  "$KWHD" --config "$T/kwh.toml" 2>"$T/kwhd.err" &
  local kpid=$!
  pids+=($kpid)
  sleep 3
  local r0 c0 s0 r1 c1 s1 hwm
  r0=$(sql 'SELECT count(*) FROM readings')
  c0=$(cpu_ticks $kpid)
  s0=$(date +%s%N)
  sleep "$WINDOW"
  r1=$(sql 'SELECT count(*) FROM readings')
  c1=$(cpu_ticks $kpid)
  s1=$(date +%s%N)
  hwm=$(awk '/VmHWM/ { print $2 }' /proc/$kpid/status)
  kill -TERM $kpid
  wait $kpid || true
  local readings=$((r1 - r0))
  local cpu wall
  cpu=$(echo "scale=3; ($c1 - $c0) / $ticks_per_s" | bc)
  wall=$(echo "scale=3; ($s1 - $s0) / 1000000000" | bc)
  kwhd_rate=$(echo "scale=1; $readings / $cpu" | bc)
  echo "kwhd polling every second, $1, for $wall s:"
  echo "  readings stored and billed: $readings ($(echo "scale=1; $readings / $wall" | bc) per second; $METERS meters)"
  echo "  CPU: $cpu s ($(echo "scale=1; 100 * $cpu / $wall" | bc)% of one core)"
  echo "  readings per CPU-second: $kwhd_rate"
  echo "  peak RSS (VmHWM): $((hwm / 1024)) MB ($hwm kB)"
  echo "  skipped polls (cycle overran): $(grep -o '[0-9]* polls skipped' "$T/kwhd.err" | awk '{ n += $1 } END { print n + 0 }')"
  echo
}
poll_run "profile acrel-ddsy1352 (9 values)"
kwhd_full=$kwhd_rate
printf 'name = "bench-energy"\nkind = "electricity"\n[values.energy_total]\ntable = "holding"\naddress = 0\ntype = "u32"\nscale = 10\n' \
  >"$T/energy.toml"
sql "UPDATE meters SET profile = '$T/energy.toml'"
poll_run "energy_total only"
kwhd_energy=$kwhd_rate

# 3. collectd's modbus plugin on the same simulator, energy_total only (one u32).
if ! command -v collectd >/dev/null || [ ! -f /usr/lib/collectd/modbus.so ]; then
  echo "collectd: not installed (apt-get install collectd-core, or tools/kwh-dev bench); no comparison"
  exit 0
fi
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
collectd_lines() { find "$T/csv" -type f -exec cat {} + 2>/dev/null | grep -vc '^epoch' || true; }
collectd -f -C "$T/collectd.conf" >"$T/collectd.out" 2>&1 &
cpid=$!
pids+=($cpid)
sleep 3
l0=$(collectd_lines)
c0=$(cpu_ticks $cpid)
s0=$(date +%s%N)
sleep "$WINDOW"
l1=$(collectd_lines)
c1=$(cpu_ticks $cpid)
s1=$(date +%s%N)
kill -TERM $cpid
wait $cpid || true
collectd_values=$((l1 - l0))
collectd_cpu=$(echo "scale=3; ($c1 - $c0) / $ticks_per_s" | bc)
wall=$(echo "scale=3; ($s1 - $s0) / 1000000000" | bc)
echo "collectd $(collectd -h 2>&1 | sed -n 's/.*collectd \([0-9.]*\).*/\1/p' | head -1) modbus + csv, Interval 1, for $wall s:"
echo "  values read and written: $collectd_values ($(echo "scale=1; $collectd_values / $wall" | bc) per second)"
echo "  CPU: $collectd_cpu s ($(echo "scale=1; 100 * $collectd_cpu / $wall" | bc)% of one core)"
if [ "$collectd_values" -gt 0 ] && [ "$(echo "$collectd_cpu > 0" | bc)" = 1 ]; then
  collectd_rate=$(echo "scale=1; $collectd_values / $collectd_cpu" | bc)
  echo "  values per CPU-second: $collectd_rate"
  echo
  echo "kwhd / collectd, readings per CPU-second: $(echo "scale=2; $kwhd_energy / $collectd_rate" | bc) with the same register" \
       "(energy_total only), $(echo "scale=2; $kwhd_full / $collectd_rate" | bc) with kwhd reading its full profile"
else
  echo "  collectd stored nothing; its log:"
  tail -5 "$T/collectd.out"
fi
