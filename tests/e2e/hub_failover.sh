#!/usr/bin/env bash
# The hub on a primary PostgreSQL with a synchronous standby (pg_basebackup -R), the site
# reaching the primary through a TCP forwarder the test controls (its WAN) and the standby
# directly, with one multi-host URL and target_session_attrs=read-write: a WAN black-holed then
# cut while the site sells and bills, kwhd killed with -9 mid-push, and the primary killed with
# -9 mid-push and the standby promoted. After each, the hub holds every ledger entry of the
# site exactly once, and no alarm; cut-off and top-up at the site go on with the WAN cut.
# Prints the failover time (kill -9 of the primary to the first row committed on the promoted
# standby).
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
source "$KWH_SOURCE/tests/e2e/hub_lib.sh"
need_sqlite3
need_pg
command -v ps >/dev/null || skip "ps is not installed (procps)"
[ -x "$PG_BIN/pg_basebackup" ] || skip "pg_basebackup is not in $PG_BIN"
start_pg
start_pg_standby

# The WAN: the site reaches the primary on FWD_PORT only.
FWD_PORT=$(free_port)
start_forwarder "$FWD_PORT" "$PG_PORT" wan
WAN_PID=$FWD_PID

HUB_URL="postgresql://postgres@127.0.0.1:$FWD_PORT,127.0.0.1:$PG2_PORT/postgres?target_session_attrs=read-write&connect_timeout=2"
# A third meter for an account opened with the WAN cut.
hub_site north "$HUB_URL" 3 'batch = 7' 'retry = "200ms"'
export KWH_CONFIG="$T/kwh.toml"
expect_exit 0 kwhd --config "$T/kwh.toml" --check-config
# kwh hub init through the same URL: it lands on the primary (the standby is read-only).
expect_exit 0 kwh hub init
contains "$OUT" "schema version $HUB_SCHEMA"
equals "$(psql_q "SELECT max(version) FROM hub_schema_version")" "$HUB_SCHEMA"

hub_rows() { psql_q "SELECT count(*) FROM site_rows WHERE site_id = 'north'"; }
# once: every row at the hub once (by seq, and every ledger entry by its id), no alarm.
once() {
  equals "$(psql_q "SELECT count(*) - count(DISTINCT seq) FROM site_rows WHERE site_id = 'north'")" 0
  equals "$(psql_q "SELECT count(*) - count(DISTINCT key) FROM site_rows WHERE site_id = 'north' AND kind = 'ledger'")" 0
  # (in_step compared the sets; the site bills on meanwhile, so the hub may only be behind)
  [ "$(psql_q "SELECT count(*) FROM ledger WHERE site_id = 'north'")" -le "$(sql "SELECT count(*) FROM ledger")" ] ||
    fail "the hub has more ledger entries than the site"
  equals "$(psql_q "SELECT count(*) FROM alarms")" 0
  equals "$(kwh hub status --json | json 'd["alarm"]')" None
}
# sell_fast FROM TO ACCOUNT: sales that must succeed at once whatever the hub does.
sell_fast() {
  local i started took
  for i in $(seq "$1" "$2"); do
    started=$(date +%s%N)
    expect_exit 0 kwh sell "$3" "1.$(printf %02d $((i % 100)))" --ref "till-$i"
    took=$((($(date +%s%N) - started) / 1000000))
    [ "$took" -lt 3000 ] || fail "sale till-$i took $took ms"
  done
}

echo "[$SECONDS s] servers up"
start_kwhd
sell_fast 1 10 A1
wait_for 30 in_step north || { cat "$T/kwhd.err" >&2; fail "the hub did not get the site's ledger"; }
once
grep -q "hub: pushing to 127.0.0.1:$FWD_PORT" "$T/kwhd.err" || fail "kwhd did not push through the WAN: $(cat "$T/kwhd.err")"
# The standby has what the primary committed (synchronous; replayed a moment later, and the
# site pushes on meanwhile).
primary_rows=$(hub_rows)
standby_has() { [ "$(psql "$PG2_URL" -X -A -t -q -c "SELECT count(*) FROM site_rows WHERE site_id = 'north'")" -ge "$primary_rows" ]; }
wait_for 5 standby_has || fail "the standby does not have the primary's $primary_rows rows"

# --- A WAN outage: black-holed (kill -STOP), then cut (kill -9), then back. ---
kill -STOP "$WAN_PID"
sleep 0.5
before=$(psql "$PG_URL" -X -A -t -q -c "SELECT count(*) FROM site_rows WHERE site_id = 'north'")
usage_before=$(sql "SELECT sum(quantity) FROM daily_usage")
sell_fast 11 20 A2
sleep 2
equals "$(hub_rows)" "$before"
# kwhd stops within seconds though its hub call hangs on the black hole (the call gives up
# when the pusher is stopped), and starts again.
kill -TERM "$KWHD_PID"
gone() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null); [ -z "$s" ] || [ "${s#Z}" != "$s" ]; }
wait_for 5 gone "$KWHD_PID" || { cat "$T/kwhd.err" >&2; fail "kwhd did not stop within 5 s with a hub call hanging"; }
wait "$KWHD_PID" 2>/dev/null || true
start_kwhd
kill -9 "$WAN_PID"
wait "$WAN_PID" 2>/dev/null || true
sell_fast 21 25 A1
# Cut-off and top-up at the site go on with the WAN cut: an account opened on M1_3 with nothing
# paid falls into arrears and its relay is opened; a sale closes it again.
kwh account open A3 --name "Noodle Bar" --tariff flat --meter M1_3 >/dev/null
relay() { echo "SELECT count(*) FROM commands c JOIN meters m ON m.id = c.meter_id WHERE m.name = 'M1_3' AND c.action = '$1' AND c.reason = '$2' AND c.state = 'done'"; }
wait_for 20 is "$(relay relay_off arrears)" 1 || { cat "$T/kwhd.err" >&2; fail "no cut-off with the WAN cut"; }
expect_exit 0 kwh sell A3 100 --ref desk-a3
wait_for 20 is "$(relay relay_on topup)" 1 || { cat "$T/kwhd.err" >&2; fail "no reconnection after a top-up with the WAN cut"; }
wait_for 15 has_error || fail "kwh hub status shows no error while the WAN is cut: $(kwh hub status)"
equals "$(hub_rows)" "$before"
[ "$(kwh hub status --json | json 'd["rows_waiting"]')" -ge 15 ] || fail "the sales are not waiting: $(kwh hub status)"
wait_for 10 at_least $((usage_before + 1)) "SELECT sum(quantity) FROM daily_usage" || fail "billing stopped with the WAN"
start_forwarder "$FWD_PORT" "$PG_PORT" wan
WAN_PID=$FWD_PID
wait_for 30 in_step north || { cat "$T/kwhd.err" >&2; fail "the backlog did not drain after the WAN came back"; }
once
equals "$(psql_q "SELECT count(*) FROM ledger WHERE site_id = 'north' AND ref LIKE 'till-%'")" 25
echo "[$SECONDS s] WAN outage: drained, $(hub_rows) rows at the hub"

# --- kwhd killed with -9 mid-push, and started again. ---
sell_fast 26 60 A2 &
SELLER=$!
sleep 0.7
kill -9 "$KWHD_PID"
wait "$KWHD_PID" 2>/dev/null || true
wait "$SELLER" || fail "sales failed while kwhd was killed"
start_kwhd
wait_for 30 in_step north || { cat "$T/kwhd.err" >&2; fail "not in step after kwhd was killed"; }
once
equals "$(psql_q "SELECT count(*) FROM ledger WHERE site_id = 'north' AND ref LIKE 'till-%'")" 60
echo "[$SECONDS s] kwhd kill -9: in step, $(hub_rows) rows at the hub"

# --- The primary killed with -9 mid-push; the standby promoted. ---
sell_fast 61 90 A1 &
SELLER=$!
sleep 0.5
killed=$(date +%s%N)
pg_crash
# The forwarder stays, accepting connections and dropping them as its upstream refuses (a
# proxy or port forward in front of the dead primary): libpq gives up on the whole list then,
# and kwh tries the hosts one by one, so the failover still happens.
# What the standby had at the crash, once it has replayed what it received: every row the
# pusher saw committed (synchronous), so at least the site's hub.pushed.
q2() { psql "$PG2_URL" -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
replayed() { [ "$(q2 "SELECT pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn()")" = t ]; }
wait_for 10 replayed || fail "the standby did not replay what it received"
at_crash=$(q2 "SELECT coalesce(max(seq), 0) FROM site_rows WHERE site_id = 'north'")
site_pushed=$(sql "SELECT value FROM settings WHERE key = 'hub.pushed'")
[ "$site_pushed" -le "$at_crash" ] || fail "the site saw rows up to $site_pushed committed, the standby has up to $at_crash"
pg_promote_standby
promoted=$(date +%s%N)
PG_URL=$PG2_URL
pushed_after() { [ "$(psql_q "SELECT coalesce(max(seq), 0) FROM site_rows WHERE site_id = 'north'")" -gt "$at_crash" ]; }
until pushed_after; do
  [ $((($(date +%s%N) - killed) / 1000000000)) -lt 30 ] || { cat "$T/kwhd.err" >&2; fail "no row reached the promoted standby in 30 s"; }
  sleep 0.05
done
first_row=$(date +%s%N)
wait "$SELLER" || fail "sales failed while the primary was down"
wait_for 30 in_step north || { cat "$T/kwhd.err" >&2; fail "not in step after the failover"; }
once
equals "$(psql_q "SELECT count(*) FROM ledger WHERE site_id = 'north' AND ref LIKE 'till-%'")" 90
equals "$(psql_q "SELECT pg_is_in_recovery()")" f
grep -q "hub: pushing to 127.0.0.1:$PG2_PORT" "$T/kwhd.err" || fail "kwhd did not push to the new primary: $(cat "$T/kwhd.err")"
echo "failover: promote took $(((promoted - killed) / 1000000)) ms after the kill"
echo "failover: kill -9 of the primary to the first row on the new primary: $(((first_row - killed) / 1000000)) ms"
echo "[$SECONDS s] failover: in step, $(hub_rows) rows at the hub"
