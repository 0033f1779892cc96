#!/usr/bin/env bash
# The kwh demo: the five-minute tour of a small prepaid site, on the embedded default (SQLite
# and the built-in simulator). Usage: examples/demo.sh BUILD_DIR
#
# It starts a simulated site (24 meters on 3 gateways, time running 1200x faster), opens
# accounts on time-of-use and flat tariffs, sells credit and runs kwhd. Within about a minute
# balances fall, alarms fire, a relay opens on arrears and closes again after a top-up, and the
# office's reports come out. Everything lives in a temporary folder, removed at the end.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
demo=$(mktemp -d "${TMPDIR:-/tmp}/kwh-demo.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$demo"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export KWH_DB="$demo/kwh.db" KWH_CONFIG="$demo/kwh.toml" PATH="$build:$PATH"
bold=$'\033[1m' dim=$'\033[2m' off=$'\033[0m'
[ -t 1 ] && [ -z "${NO_COLOR:-}" ] || { bold='' dim='' off=''; }
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
run() { printf '%s$ %s%s\n' "$dim" "$*" "$off"; "$@"; }

port=$(( 20000 + RANDOM % 20000 ))
cat > "$KWH_CONFIG" <<TOML
# Demo site: polled every second. Simulated time runs 1200x faster than the clock, so each
# second of polling sees twenty minutes of consumption: allow for it in the plausibility rule.
timezone = "Asia/Shanghai"
currency = "CNY"
[poll]
interval = "1s"
timeout = "300ms"
offline_after = 2
[billing]
reconnect_above = "0"
max_power_w = 50000000
TOML

say "A simulated site: 24 Acrel prepaid meters on 3 Modbus TCP gateways"
kwh sim --meters 24 --gateways 3 --listen "127.0.0.1:$port" --speed 1200 --load-w 3000 \
  >"$demo/sim.log" 2>&1 &
pids+=($!)
sleep 1
cat "$demo/sim.log"

say "The database, gateways and meters"
run kwh init
for g in 0 1 2; do
  run kwh gateway add "gw$((g + 1))" --tcp "127.0.0.1:$((port + g))" --timeout-ms 300 >/dev/null
done
n=0
for g in 1 2 3; do
  for u in $(seq 1 8); do
    n=$((n + 1))
    kwh meter add "$(printf 'M%02d' $n)" --gateway "gw$g" --unit "$u" --profile acrel-ddsy1352 \
      --building "B$g" --room "$(printf '%d%02d' $g $u)" >/dev/null
  done
done
run kwh meter list --gateway gw1

say "Tariffs: flat, and four-band time of use"
run kwh tariff add flat --flat 1.2000
run kwh tariff add tou --file "$src/examples/tariffs/tou-4band.toml"

say "Accounts: one shop per meter, with alarm levels"
for i in $(seq 1 24); do
  t=flat; [ $((i % 2)) = 0 ] && t=tou
  kwh account open "$(printf 'S%02d' $i)" --name "Shop $i" --tariff $t --meter "$(printf 'M%02d' $i)" \
    --alarm1 40 --alarm2 20 >/dev/null
done

say "Selling credit (S01 gets only a little)"
run kwh sell S01 45 --method cash
for i in $(seq 2 24); do kwh sell "$(printf 'S%02d' $i)" 500 --method card >/dev/null; done
run kwh account list --status ok | head -4

say "kwhd polls every second, bills every reading, and switches relays"
kwhd >"$demo/kwhd.log" 2>&1 &
pids+=($!)
relay() { kwh meter list --format csv | awk -F, '$1 == "M01" { print "relay " $9 }'; }
last=""
for i in $(seq 1 60); do
  sleep 1
  st=$(kwh account list --format csv | awk -F, '$1 == "S01" { print $3 " " $4 }')
  [ "$st" = "$last" ] || printf '  t+%02ds  S01: %-16s  M01: %s\n' "$i" "$st" "$(relay)"
  last=$st
  case "$st" in arrears*) break ;; esac
done
sleep 2
printf '  M01: %s (opened for arrears by kwhd)\n' "$(relay)"

say "A top-up closes the relay again"
run kwh sell S01 100 --method cash
sleep 2
printf '  M01: %s\n' "$(relay)"

say "What kwhd did (its log, one line per thing that happened)"
grep -E "M01" "$demo/kwhd.log" | grep -v "charged" | head -6 || true

say "The office's reports"
run kwh report balances --format csv | head -4
run kwh report sales --by operator
run kwh report energy --by building
run kwh report alarms
run kwh report reconcile
run kwh check
say "Done: the demo cleans up after itself."
