#!/usr/bin/env bash
# kwh serve under load while kwhd polls 2 000 meters of kwh sim every second into the same
# database: tenants' pages (GET / with a session) and signed webhook payments, each client on a
# keep-alive connection sending back to back (tests/bench/serve_load.py). Prints requests per
# second, p50, p99 and the worst latency of each kind: both kinds at once, pages alone, one
# provider sending webhooks one after another, and four at once. Targets: webhook p99 < 50 ms, page p99 < 100 ms; nothing here passes or fails on them.
# Usage: bench_serve.sh KWH KWHD [SECONDS=20]. As root, the site runs as nobody (kwh serve
# refuses root).
set -euo pipefail
KWH=${1:-${KWH:?}}
KWHD=${2:-${KWHD:?}}
WINDOW=${3:-20}
METERS=2000
GATEWAYS=10
PER=$((METERS / GATEWAYS))
HERE=$(cd "$(dirname "$0")" && pwd)

T=$(mktemp -d "${TMPDIR:-/tmp}/kwh-bench-serve.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $T" >&2 || rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/bin" "$T/site"
cp "$KWH" "$T/bin/kwh"; cp "$KWHD" "$T/bin/kwhd"
chmod 0755 "$T" "$T/bin"
AS=()
if [ "$(id -u)" = 0 ]; then
  chown nobody:nogroup "$T/site"
  AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
export KWH_DB="$T/site/kwh.db" KWH_CONFIG="$T/site/kwh.toml"
unset NOTIFY_SOCKET
kwh() { "${AS[@]}" "$T/bin/kwh" "$@"; }
sql() { "${AS[@]}" sqlite3 -cmd '.timeout 10000' "$KWH_DB" "$@"; }
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$port
printf 'whsec-bench-0123456789\n' >"$T/site/paybox.secret"
cat >"$T/site/kwh.toml" <<TOML
currency = "CNY"
[poll]
interval = "1s"
timeout = "500ms"
[serve]
listen = "127.0.0.1:$port"
link_rate = 10000
webhook_rate = 100000
[serve.providers.paybox]
secret_file = "$T/site/paybox.secret"
checkout_url = "https://checkout.example.com/pay?account={account}&amount={amount}"
TOML
[ "$(id -u)" = 0 ] && chown nobody:nogroup "$T/site/kwh.toml" "$T/site/paybox.secret" && chmod 0640 "$T/site/paybox.secret"

kwh init >"$T/init.out"
# Not through the function: $! must be the simulator itself, for the clean-up.
"${AS[@]}" "$T/bin/kwh" sim --meters $METERS --gateways $GATEWAYS --listen 127.0.0.1:0 >"$T/sim.out" 2>"$T/sim.err" &
pids+=($!)
for _ in $(seq 100); do grep -q '127.0.0.1:[0-9]' "$T/sim.out" 2>/dev/null && break; sleep 0.1; done
simport=$(grep -o '127.0.0.1:[0-9]*' "$T/sim.out" | head -1 | cut -d: -f2)
for ((g = 1; g <= GATEWAYS; g++)); do
  kwh gateway add "g$g" --tcp "127.0.0.1:$((simport + g - 1))" --timeout-ms 500 >"$T/gw.out"
done
kwh tariff add T1 --flat 1.00 >"$T/tariff.out"
# The site straight into the database (2 000 `kwh meter add` and `kwh account open` would
# dominate the run): a meter and an account each, with credit enough that no relay opens.
sql "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $METERS)
     INSERT INTO meters(name, gateway_id, unit, profile, kind, created)
     SELECT printf('M%04d', i + 1), (SELECT id FROM gateways WHERE name = 'g' || (i / $PER + 1)), i % $PER + 1,
            'acrel-ddsy1352', 'electricity', strftime('%s', 'now') FROM n;
     INSERT INTO accounts(name, holder, tariff_id, credit_limit, opened)
     SELECT 'A' || substr(name, 2), 'Tenant ' || substr(name, 2), (SELECT id FROM tariffs), 100000000, strftime('%s', 'now')
     FROM meters;
     INSERT INTO assignments(account_id, meter_id, valid_from)
     SELECT a.id, m.id, strftime('%s', 'now') FROM meters m JOIN accounts a ON a.name = 'A' || substr(m.name, 2);"

"${AS[@]}" "$T/bin/kwhd" 2>"$T/kwhd.err" &
pids+=($!)
"${AS[@]}" "$T/bin/kwh" serve --insecure-cookies 2>"$T/serve.err" >"$T/serve.out" &
spid=$!
pids+=($spid)
for _ in $(seq 100); do grep -q 'listening on' "$T/serve.out" 2>/dev/null && break; sleep 0.1; done

# Twenty tenants signed in.
: >"$T/cookies"
for i in $(seq 1 20); do
  url=$(kwh account link "A$(printf '%04d' "$i")")
  csrf=$(curl -s "$url" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p')
  curl -s -o "$T/login.out" -c "$T/jar" -H "Origin: $BASE" --data-urlencode "csrf=$csrf" "$url"
  awk '$6 == "kwh" { print "kwh=" $7 }' "$T/jar" >>"$T/cookies"
done
accounts=$(seq -f 'A%04g' 1 200 | paste -sd, -)
sleep 5 # kwhd's first cycles: baselines, then billing
polled0=$(sql "SELECT count(*) FROM readings")

echo "kwh serve benchmark: $WINDOW s per run, kwhd polling $METERS meters every second into the same database"
echo "run              kind     requests     req/s   p50 ms   p99 ms   max ms   non-200"
run() { # LABEL PAGE_CLIENTS WEBHOOK_CLIENTS
  /usr/bin/python3 "$HERE/serve_load.py" "$BASE" "$T/cookies" "$T/site/paybox.secret" "$accounts" "$WINDOW" "$2" "$3" |
    sed "s/^/$(printf '%-16s ' "$1")/"
}
run "both at once" 4 2
run "pages alone" 4 0
run "webhooks, 1" 0 1
run "webhooks, 4" 0 4
polled=$(( $(sql "SELECT count(*) FROM readings") - polled0 ))
echo "readings kwhd stored meanwhile: $polled ($((polled / (4 * WINDOW + 1))) a second)"
echo "sales made by webhooks: $(sql "SELECT count(*) FROM ledger WHERE method = 'online'")"
kill -TERM $spid; wait $spid || true
