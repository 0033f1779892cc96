#!/usr/bin/env bash
# Wall time of `kwh sell` while kwhd polls 2 000 simulated meters on 10 gateways every second
# and bills 100 of them: 8 cashiers sell SALES times each (unique refs), each call timed with
# date +%s%N. Prints p50, p99 and max in ms, and the failed calls (target: p99 < 20 ms, none
# failed). Usage: bench_sell_latency.sh KWH KWHD [SALES]
set -euo pipefail
KWH=${1:-${KWH:?}}
KWHD=${2:-${KWHD:?}}
SALES=${3:-50}
CASHIERS=${CASHIERS:-8}
METERS=2000
GATEWAYS=10
PER=$((METERS / GATEWAYS))
T=$(mktemp -d "${TMPDIR:-/tmp}/kwh-bench-sell.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
export KWH_DB="$T/kwh.db"
unset KWH_CONFIG NOTIFY_SOCKET
sql() { sqlite3 -cmd '.timeout 10000' "$KWH_DB" "$@"; }

"$KWH" init >/dev/null
"$KWH" sim --meters $METERS --gateways $GATEWAYS --listen 127.0.0.1:0 >"$T/sim.out" 2>"$T/sim.err" &
pids+=($!)
for _ in $(seq 100); do grep -q '127.0.0.1:[0-9]' "$T/sim.out" 2>/dev/null && break; sleep 0.1; done
port=$(grep -o '127.0.0.1:[0-9]*' "$T/sim.out" | head -1 | cut -d: -f2)
[ -n "$port" ] || { cat "$T/sim.err" >&2; exit 1; }
for ((g = 1; g <= GATEWAYS; g++)); do
  "$KWH" gateway add "g$g" --tcp "127.0.0.1:$((port + g - 1))" --timeout-ms 500 >/dev/null
done
# Meters through the CLI would take minutes; the first ones go through it, the rest are
# copies of the first row with another name and unit.
for ((g = 1; g <= GATEWAYS; g++)); do
  "$KWH" meter add "M${g}_1" --gateway "g$g" --unit 1 --profile acrel-ddsy1352 >/dev/null
done
cols=$(sql "SELECT group_concat(name, ',') FROM pragma_table_info('meters') WHERE name NOT IN ('id', 'name', 'unit')")
sql "WITH RECURSIVE u(n) AS (SELECT 2 UNION ALL SELECT n + 1 FROM u WHERE n < $PER)
     INSERT INTO meters (name, unit, $cols)
     SELECT 'M' || substr(m.name, 2, instr(m.name, '_') - 2) || '_' || u.n, u.n, $(echo "$cols" | sed 's/[a-z_][a-z_0-9]*/m.&/g')
     FROM meters m, u"
[ "$(sql "SELECT count(*) FROM meters")" = $METERS ] || { echo "meters: $(sql "SELECT count(*) FROM meters")" >&2; exit 1; }
"$KWH" tariff add flat --flat 1.0000 >/dev/null
for ((a = 1; a <= 100; a++)); do
  "$KWH" account open "A$a" --name "Shop $a" --tariff flat --meter "M$(( (a - 1) % GATEWAYS + 1 ))_$(( (a - 1) / GATEWAYS + 1 ))" >/dev/null
done
printf '[poll]\ninterval = "1s"\ntimeout = "500ms"\nretries = 0\n' >"$T/kwh.toml"
"$KWHD" --config "$T/kwh.toml" 2>"$T/kwhd.err" &
pids+=($!)
for _ in $(seq 300); do [ "$(sql "SELECT count(*) FROM readings")" -ge $((2 * METERS)) ] && break; sleep 0.1; done
echo "kwhd polling: $(sql "SELECT count(*) FROM readings") readings before the sales"

# The clock and the pause between sales are bash builtins ($EPOCHREALTIME, read -t on a pipe
# that never delivers), so that the harness forks nothing but the sales it times and takes
# no CPU from them.
cashier() {
  local c=$1 i t0 t1 rc pause
  exec {pause}<> <(:)
  for ((i = 1; i <= SALES; i++)); do
    rc=0
    t0=${EPOCHREALTIME/./}
    "$KWH" sell "A$(( (c * 7 + i) % 100 + 1 ))" 1.01 --ref "c$c-$i" >/dev/null 2>>"$T/err" || rc=$?
    t1=${EPOCHREALTIME/./}
    echo "$((t1 - t0)) $rc" >>"$T/times.$c"
    read -rt "0.0$((RANDOM % 10))" -u "$pause" || true
  done
}
r0=$(sql "SELECT count(*) FROM readings")
start=$(date +%s%N)
cpids=()
for ((c = 1; c <= CASHIERS; c++)); do cashier $c & cpids+=($!); done
wait "${cpids[@]}"
secs=$(( ($(date +%s%N) - start) / 1000000000 ))
r1=$(sql "SELECT count(*) FROM readings")
cat "$T"/times.* | sort -n >"$T/all"
n=$(wc -l <"$T/all")
pct() { awk -v p="$1" -v n="$n" 'NR == int((n - 1) * p / 100) + 1 { printf "%.1f", $1 / 1000 }' "$T/all"; }
failed=$(awk '$2 != 0' "$T/all" | wc -l)
echo "kwh sell with kwhd polling $METERS meters every second: $n sales by $CASHIERS cashiers in ${secs} s"
echo "  p50 $(pct 50) ms  p90 $(pct 90) ms  p99 $(pct 99) ms  max $(tail -1 "$T/all" | awk '{ printf "%.1f", $1 / 1000 }') ms  failed $failed $(sort -u "$T/err" | head -2 | tr '\n' ' ')"
echo "  kwhd stored $((r1 - r0)) readings meanwhile ($(( (r1 - r0) / (secs > 0 ? secs : 1) )) per s)"
