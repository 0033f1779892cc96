# Helpers for the hub's end-to-end tests (sourced after lib.sh): a PostgreSQL server of the
# test's own, on a free loopback port, with its data and socket in a folder of its own; and, at
# the end, a site pushing to it and the office reading it (those need daemon_lib.sh too).
#
# PostgreSQL refuses to run as root, and CI runs as root: there the server runs as the
# unprivileged user nobody, in a folder under /tmp that it may enter (the checkout and $T may
# be in a private home). Without the server's binaries (Debian's postgresql-15) the test is
# skipped, loudly.

PG_BIN=${KWH_PG_BIN:-/usr/lib/postgresql/15/bin}

need_pg() {
  local b
  for b in initdb pg_ctl postgres; do
    [ -x "$PG_BIN/$b" ] || skip "PostgreSQL's $b is not in $PG_BIN: install postgresql-15 (tools/kwh-dev setup) or set KWH_PG_BIN"
  done
  command -v psql >/dev/null || skip "psql is not installed: install postgresql-client-15"
  if [ "$(id -u)" = 0 ]; then
    command -v setpriv >/dev/null || skip "setpriv is not installed (util-linux): PostgreSQL cannot run as root"
    id nobody >/dev/null 2>&1 || skip "there is no user 'nobody' to run PostgreSQL as"
  fi
}

# as_pg CMD...: runs CMD as the server's user (nobody when the test runs as root), in PG_DIR.
# setpriv only changes the user and execs: no PAM session, nothing done to the terminal.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    (cd "$PG_DIR" && setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups -- "$@")
  else
    (cd "$PG_DIR" && "$@")
  fi
}

# start_pg: makes and starts the server; sets PG_DIR, PG_DATA, PG_PORT and PG_URL (the
# superuser postgres, trusted on loopback, database postgres).
start_pg() {
  PG_DIR=$(mktemp -d /tmp/kwh-e2e-pg.XXXXXX)
  _kwh_dirs+=("$PG_DIR")
  chmod 0755 "$PG_DIR"
  PG_DATA=$PG_DIR/data
  # run/: the server's socket and log, written as its user.
  mkdir "$PG_DATA" "$PG_DIR/run"
  if [ "$(id -u)" = 0 ]; then chown nobody "$PG_DATA" "$PG_DIR/run"; fi
  chmod 0700 "$PG_DATA"
  PG_PORT=$(free_port)
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --no-sync >"$T/initdb.log" 2>&1 ||
    { cat "$T/initdb.log" >&2; fail "initdb failed"; }
  PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
  pg_start
}

# pg_start, pg_stop: the same server started again, and stopped (a dead WAN to the site).
pg_start() {
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/run/server.log" -w -t 30 \
    -o "-p $PG_PORT -k $PG_DIR/run -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null ||
    { cat "$PG_DIR/run/server.log" >&2; fail "PostgreSQL did not start"; }
}
pg_stop() { as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null; }

# psql_q SQL: the query's rows, fields separated by '|' as sqlite3 prints them.
psql_q() { psql "$PG_URL" -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }

# The server stops with the test, whatever happens.
_hub_exit() {
  local rc=$?
  set +e # a failing test exits nonzero: cleanup must still run
  if [ -n "${PG_DATA:-}" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1 || true
  fi
  (exit $rc)
  cleanup
}
trap _hub_exit EXIT

# start_pg_standby: a synchronous standby of the server start_pg made, from pg_basebackup -R,
# on a free loopback port of its own (PG2_DATA, PG2_PORT, PG2_URL), its log in
# $PG_DIR/run/standby.log. The primary then names it in synchronous_standby_names (set after the
# copy, so that the standby, once promoted, does not wait for a standby of its own): a commit
# the primary reports was flushed on both.
start_pg_standby() {
  PG2_DATA=$PG_DIR/standby
  mkdir "$PG2_DATA"
  if [ "$(id -u)" = 0 ]; then chown nobody "$PG2_DATA"; fi
  chmod 0700 "$PG2_DATA"
  PG2_PORT=$(free_port)
  as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" -U postgres -D "$PG2_DATA" -R -X stream -c fast \
    >"$T/basebackup.log" 2>&1 || { cat "$T/basebackup.log" >&2; fail "pg_basebackup failed"; }
  PG2_URL="postgresql://postgres@127.0.0.1:$PG2_PORT/postgres"
  trap _hub_standby_exit EXIT
  as_pg "$PG_BIN/pg_ctl" -D "$PG2_DATA" -l "$PG_DIR/run/standby.log" -w -t 30 \
    -o "-p $PG2_PORT -k $PG_DIR/run -c listen_addresses=127.0.0.1 -c fsync=off -c cluster_name=standby1" start \
    >/dev/null || { cat "$PG_DIR/run/standby.log" >&2; fail "the standby did not start"; }
  psql_q "ALTER SYSTEM SET synchronous_standby_names = 'standby1'" >/dev/null
  psql_q "SELECT pg_reload_conf()" >/dev/null
  _pg_sync() { [ "$(psql_q "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'")" = sync ]; }
  wait_for 20 _pg_sync || { cat "$PG_DIR/run/standby.log" >&2; fail "the standby is not synchronous"; }
}

# pg_crash: the primary's postmaster and every process of it killed with -9 (a crash; its
# clients' connections are reset), not stopped.
pg_crash() {
  local pm kids
  pm=$(head -1 "$PG_DATA/postmaster.pid")
  kids=$(ps -o pid= --ppid "$pm" || true)
  kill -9 "$pm" $kids 2>/dev/null || true
  while kill -0 "$pm" 2>/dev/null; do sleep 0.02; done
}

# pg_promote_standby: the standby becomes the primary (pg_ctl promote, waiting until it is).
pg_promote_standby() {
  as_pg "$PG_BIN/pg_ctl" -D "$PG2_DATA" -w -t 30 promote >/dev/null || fail "the standby was not promoted"
}

# errexit off first: `(exit $rc)` with rc > 0 under set -e would end the trap there, before the
# servers are stopped and cleanup runs.
_hub_standby_exit() {
  local rc=$?
  set +e
  if [ -n "${PG2_DATA:-}" ] && [ -f "$PG2_DATA/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG2_DATA" -m immediate stop >/dev/null 2>&1
  fi
  (exit $rc)
  _hub_exit
}

# start_forwarder LISTEN_PORT TARGET_PORT NAME: a TCP forwarder on loopback (python3 asyncio), a
# WAN the test controls: kill -STOP black-holes it, kill -9 cuts it (then start it again on the
# same port). Sets FWD_PID.
start_forwarder() {
  if [ ! -f "$T/forward.py" ]; then
    cat >"$T/forward.py" <<'PY'
import asyncio, sys

listen, target = int(sys.argv[1]), int(sys.argv[2])

async def pipe(r, w):
    try:
        while True:
            data = await r.read(65536)
            if not data:
                break
            w.write(data)
            await w.drain()
    except Exception:
        pass
    finally:
        try:
            w.close()
        except Exception:
            pass

async def handle(cr, cw):
    try:
        ur, uw = await asyncio.open_connection("127.0.0.1", target)
    except OSError:
        cw.close()
        return
    await asyncio.gather(pipe(cr, uw), pipe(ur, cw))

async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", listen, reuse_address=True)
    print("ready", flush=True)
    async with srv:
        await srv.serve_forever()

asyncio.run(main())
PY
  fi
  : >"$T/$3.out"
  /usr/bin/python3 "$T/forward.py" "$1" "$2" >"$T/$3.out" 2>"$T/$3.err" &
  FWD_PID=$!
  track $FWD_PID
  wait_for 10 grep -q ready "$T/$3.out" || { cat "$T/$3.err" >&2; fail "the forwarder $3 did not start"; }
}

# The hub's schema version that kwh hub init brings a hub to: one per file in lib/kwh/hub/sql.
HUB_SCHEMA=$(find "$KWH_SOURCE/lib/kwh/hub/sql" -name '[0-9]*.sql' | wc -l)

# hub_site SITE URL METERS [KEY = VALUE...]: a site in $KWH_DB that pushes to the hub at URL as
# SITE: the simulator with METERS meters on one gateway, 1 kW each at 3600x (1.00 a second at
# 1.00 a kWh), accounts A1 on M1_1 and A2 on M1_2 with 500 each (the sales' refs name the site,
# so that two sites' first entries differ at the hub), and $T/kwh.toml with [hub] pushing every
# 200ms plus the test's own [hub] keys (retry, batch, usage_every: TOML takes no key twice). The
# caller points KWH_CONFIG at the file, or moves it.
hub_site() {
  local site=$1 url=$2 meters=$3
  shift 3
  kwh init >/dev/null
  start_sim "$meters" 1 --speed 3600 --load-w 1000
  add_site 1 "$meters"
  kwh tariff add flat --flat 1.0000 >/dev/null
  kwh account open A1 --name "Tea House $site" --tariff flat --meter M1_1 >/dev/null
  kwh account open A2 --name "Book Shop $site" --tariff flat --meter M1_2 >/dev/null
  kwh sell A1 500 --ref "$site-open-1" >/dev/null
  kwh sell A2 500 --ref "$site-open-2" >/dev/null
  write_config '[billing]' 'max_power_w = 100000000' '[hub]' "url = \"$url\"" "site_id = \"$site\"" \
    'interval = "200ms"' 'retry_max = "1s"' "$@"
}

# office ARGS...: kwh as the office runs it: no site database, no kwh.toml; the hub from the
# environment, PostgreSQL decides.
office() { env -u KWH_CONFIG KWH_DB="$T/no-such-site.db" KWH_HUB_URL="$PG_URL" "$KWH" "$@"; }

# site_ledger, hub_ledger SITE: the site's ledger ($KWH_DB), and SITE's at the hub, in the same
# columns: equal when the hub holds every entry of the site once, as the site has it.
site_ledger() { sql "SELECT id, kind, amount, balance, coalesce(ref, '') FROM ledger ORDER BY id"; }
hub_ledger() { psql_q "SELECT id, kind, amount, balance, coalesce(ref, '') FROM ledger WHERE site_id = '$1' ORDER BY id"; }
ledgers_agree() { [ "$(site_ledger)" = "$(hub_ledger "$1")" ]; }
# drained: the site ($KWH_DB, KWH_CONFIG) has no row waiting for the hub.
drained() { [ "$(kwh hub status --json | json 'd["rows_waiting"]')" = 0 ]; }
# in_step SITE: the hub holds every ledger entry of the site, once, with the same columns.
in_step() { drained && ledgers_agree "$1"; }
# has_error: kwh hub status shows the last push's error (the hub is away).
has_error() { [ "$(kwh hub status --json | json 'd["last_error"] is not None')" = True ]; }
