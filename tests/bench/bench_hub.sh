#!/usr/bin/env bash
# The hub's ingest, backlog drain and (with --failover) failover time: a PostgreSQL of the
# benchmark's own (as tests/e2e/hub_lib.sh makes it: loopback, fsync off, run as nobody when
# root), `kwh hub init`, then bench_hub (the real pusher, one thread per site) on SITES site
# databases of METERS meters. Prints its figures on the last lines; the hub is then checked to
# hold every site row once and no alarm.
# Usage: bench_hub.sh KWH KWHD BENCH_HUB [sites=20] [meters=5000] [minutes=3] [outage=60]
set -euo pipefail
export KWH=${1:?} KWHD=${2:?}
BENCH_HUB=${3:?}
shift 3
KWH_SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/hub_lib.sh"
# The server stopped and the folders removed on failure too (errexit off in the trap).
_bench_hub_exit() {
  local rc=$?
  set +e
  (exit $rc)
  _hub_exit
}
trap _bench_hub_exit EXIT
need_pg
start_pg
# Room for 20 pushers and psql.
psql_q "ALTER SYSTEM SET max_connections = 200" >/dev/null
pg_stop
pg_start
printf '[hub]\nurl = "%s"\nsite_id = "bench"\n' "$PG_URL" >"$T/kwh.toml"
"$KWH" init >/dev/null
KWH_CONFIG="$T/kwh.toml" "$KWH" hub init >/dev/null
mkdir "$T/sites"
"$BENCH_HUB" "$T/sites" "$PG_URL" "$@" | tee "$T/bench.out"
written=$(grep "^site rows written in all" "$T/bench.out" | awk '{print $NF}')
at_hub=$(psql_q "SELECT count(*) FROM site_rows")
distinct=$(psql_q "SELECT count(DISTINCT (site_id, seq)) FROM site_rows")
last=$(psql_q "SELECT sum(last_seq) FROM sites")
alarms=$(psql_q "SELECT count(*) FROM alarms")
echo "hub check: $at_hub rows at the hub ($distinct distinct, sum of last_seq $last), $written written at the sites, $alarms alarms"
[ "$at_hub" = "$written" ] && [ "$distinct" = "$written" ] && [ "$last" = "$written" ] && [ "$alarms" = 0 ] ||
  fail "the hub does not hold every site row once"
echo "hub size: $(psql_q "SELECT pg_size_pretty(pg_database_size('postgres'))")"
