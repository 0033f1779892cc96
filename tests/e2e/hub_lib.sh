# Helpers for the hub's end-to-end tests (sourced after lib.sh): a PostgreSQL server of the
# test's own, on a free loopback port, with its data and socket in a folder of its own.
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
  if [ -n "${PG_DATA:-}" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1 || true
  fi
  (exit $rc)
  cleanup
}
trap _hub_exit EXIT
