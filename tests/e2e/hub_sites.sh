#!/usr/bin/env bash
# Several sites, one office: two sites, each with its own database, simulator and kwhd, push to
# one hub at the same time while both sell; the office tops up an account at each site. Then the
# hub holds each site's ledger exactly as the site has it (apart, by site_id), the office's
# sales report has both sites with each site's own totals to the minor unit, and kwh hub check
# is clean for all of them.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
source "$KWH_SOURCE/tests/e2e/hub_lib.sh"
need_sqlite3
need_pg
start_pg

expect_exit 0 office hub init

# site N: its database, simulator (pid in SIM_N, output in SIMOUT_N), config and kwhd (pid in
# KWHD_N).
for s in north south; do
  export KWH_DB="$T/$s.db"
  hub_site $s "$PG_URL" 2 'usage_every = "1s"' 'retry = "300ms"'
  eval "SIM_$s=$SIM_PID SIMOUT_$s=$SIM_OUT"
  mv "$T/kwh.toml" "$T/$s.toml"
  "$KWHD" --config "$T/$s.toml" 2>"$T/kwhd-$s.err" &
  track $!
  eval "KWHD_$s=$!"
done
at() { local s=$1; shift; KWH_DB="$T/$s.db" KWH_CONFIG="$T/$s.toml" "$@"; }
registered() { [ "$(psql_q "SELECT count(*) FROM sites")" = 2 ]; }
wait_for 20 registered || { cat "$T"/kwhd-*.err >&2; fail "the two sites did not register at the hub"; }

# Both sites sell at once; the office tops up one account at each.
sellers=()
for s in north south; do
  ( for i in $(seq 1 15); do at $s "$KWH" sell "A$((i % 2 + 1))" "2.$(printf %02d "$i")" --ref "$s-till-$i" >/dev/null || exit 1; done ) &
  sellers+=($!)
done
expect_exit 0 office hub sell north A1 7.77 --ref office-n --wait 20
expect_exit 0 office hub sell south A2 8.88 --ref office-s --wait 20
wait "${sellers[@]}" || fail "a sale at a site failed"

# Stop the sites (their ledgers then stand still) once each has pushed everything.
for s in north south; do
  wait_for 30 at $s drained || { cat "$T/kwhd-$s.err" >&2; fail "site $s did not push its backlog"; }
done
for s in north south; do
  sim_var="SIM_$s" out_var="SIMOUT_$s"
  stop_sim "${!sim_var}" "${!out_var}"
done
sleep 1.5
for s in north south; do
  pid_var="KWHD_$s"
  kill -TERM "${!pid_var}"; wait "${!pid_var}" || fail "kwhd of $s did not stop cleanly"
done

for s in north south; do
  at_site=$(at $s site_ledger)
  at_hub=$(hub_ledger $s)
  equals "$at_hub" "$at_site"
  equals "$(KWH_DB="$T/$s.db" sql "SELECT count(*) FROM ledger WHERE ref LIKE '$s-till-%'")" 15
  equals "$(KWH_DB="$T/$s.db" sql "SELECT count(*) FROM ledger WHERE ref LIKE 'hub:office-%'")" 1
  # The office's sales report, this site's rows: the site's own report to the minor unit.
  mine=$(at $s "$KWH" report sales --by account --format csv | tail -n +2 | grep -v '^total' | sort)
  theirs=$(office hub report sales --site $s --by account --format csv | tail -n +2 | grep -v '^total' | cut -d, -f2- | sort)
  [ "$(printf '%s\n' "$mine" | wc -l)" = 2 ] || fail "site $s's sales report has not its two accounts: $mine"
  equals "$theirs" "$mine"
  echo "$s: $(printf '%s\n' "$at_hub" | wc -l) ledger entries at the hub as at the site; sales by account $(echo $mine)"
done
expect_exit 0 office hub report sales --all --by account --format csv
equals "$(printf '%s\n' "$OUT" | tail -n +2 | cut -d, -f1 | grep -v '^total' | sort -u | tr '\n' ' ')" "north south "
expect_exit 0 office hub check --all
equals "$(psql_q "SELECT count(*) FROM alarms")" 0
echo "hub_sites: ok"
