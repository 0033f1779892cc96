#!/usr/bin/env bash
# Commissioning a site from a sheet: wall time of `kwh gateway import`, `kwh meter import` and
# `kwh account import` (with an opening balance each) for METERS meters on METERS/200 gateways,
# into a fresh database, each command timed whole with date +%s%N (process start, reading the
# file, the checks, one transaction and its fsync). Then the meters again (every row skipped)
# and a --dry-run. Prints one line per step; the target is 10 000 meters in under 2 s.
# Usage: bench_site_import.sh KWH [METERS]
set -euo pipefail
KWH=${1:-${KWH:?}}
METERS=${2:-10000}
GATEWAYS=$(((METERS + 199) / 200))
T=$(mktemp -d "${TMPDIR:-/tmp}/kwh-bench-import.XXXXXX")
trap 'rm -rf "$T"' EXIT
export KWH_DB="$T/kwh.db"
unset KWH_CONFIG

/usr/bin/python3 - "$T" "$METERS" <<'PY'
import sys
t, n = sys.argv[1], int(sys.argv[2])
with open(f"{t}/gateways.csv", "w") as f:
    f.write("name,tcp,timeout_ms,gap_ms\n")
    for g in range(1, (n + 199) // 200 + 1):
        f.write(f"gw{g},10.0.{g // 250}.{g % 250 + 1}:502,500,20\n")
with open(f"{t}/meters.csv", "w") as f:
    f.write("id,gateway,unit,profile,kind,building,room,relay_mode,overload_w\n")
    for i in range(n):
        g, u = i // 200 + 1, i % 200 + 1
        f.write(f"M{i + 1:05},gw{g},{u},acrel-ddsy1352,electricity,B{g:02},\"Shop {u}, level {g}\",auto,{8000 if i % 3 == 0 else ''}\n")
with open(f"{t}/accounts.csv", "w") as f:
    f.write("id,name,tariff,meters,alarm1,alarm2,credit_limit,phone,opening_balance\n")
    for i in range(n):
        f.write(f"A{i + 1:05},Tenant {i + 1},flat,M{i + 1:05},50,20,0,+86138{i:08},{100 + i % 50}.25\n")
PY

"$KWH" init >/dev/null
"$KWH" tariff add flat --flat 0.85 >/dev/null

# step NAME CMD...: runs CMD once, prints its wall time.
step() {
  local name=$1 t0 t1 out
  shift
  t0=$(date +%s%N)
  out=$("$@")
  t1=$(date +%s%N)
  printf '%-34s %8s s   %s\n' "$name" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')" "$out"
}

echo "site import: $METERS meters on $GATEWAYS gateways, $METERS accounts"
step "gateway import ($GATEWAYS)" "$KWH" gateway import "$T/gateways.csv"
step "meter import ($METERS)" "$KWH" meter import "$T/meters.csv"
step "meter import again (all skipped)" "$KWH" meter import "$T/meters.csv"
step "account import ($METERS, opening)" "$KWH" account import "$T/accounts.csv"
step "account import again --dry-run" "$KWH" account import "$T/accounts.csv" --dry-run -q
step "kwh check" "$KWH" check
