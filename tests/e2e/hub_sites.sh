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

office() { env -u KWH_CONFIG KWH_DB="$T/no-such-site.db" KWH_HUB_URL="$PG_URL" "$KWH" "$@"; }
expect_exit 0 office hub init

# site N: its database, simulator, config and kwhd (pid in KWHD_N).
for s in north south; do
  export KWH_DB="$T/$s.db"
  kwh init >/dev/null
  start_sim 2 1 --speed 3600 --load-w 1000
  add_site 1 2
  kwh tariff add flat --flat 1.0000 >/dev/null
  kwh account open A1 --name "Tea House $s" --tariff flat --meter M1_1 >/dev/null
  kwh account open A2 --name "Book Shop $s" --tariff flat --meter M1_2 >/dev/null
  kwh sell A1 500 --ref "$s-open-1" >/dev/null
  kwh sell A2 500 --ref "$s-open-2" >/dev/null
  write_config '[billing]' 'max_power_w = 100000000' '[hub]' "url = \"$PG_URL\"" "site_id = \"$s\"" \
    'interval = "200ms"' 'usage_every = "1s"' 'retry = "300ms"' 'retry_max = "1s"'
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
drained() { [ "$(at "$1" "$KWH" hub status --json | json 'd["rows_waiting"]')" = 0 ]; }
for s in north south; do
  wait_for 30 drained $s || { cat "$T/kwhd-$s.err" >&2; fail "site $s did not push its backlog"; }
done
stop_sim "$SIM_PID" "$SIM_OUT"
sleep 1.5
for s in north south; do
  pid_var="KWHD_$s"
  kill -TERM "${!pid_var}"; wait "${!pid_var}" || fail "kwhd of $s did not stop cleanly"
done

for s in north south; do
  site_ledger=$(KWH_DB="$T/$s.db" sql "SELECT id, kind, amount, balance, coalesce(ref, '') FROM ledger ORDER BY id")
  hub_ledger=$(psql_q "SELECT id, kind, amount, balance, coalesce(ref, '') FROM ledger WHERE site_id = '$s' ORDER BY id")
  equals "$hub_ledger" "$site_ledger"
  equals "$(KWH_DB="$T/$s.db" sql "SELECT count(*) FROM ledger WHERE ref LIKE '$s-till-%'")" 15
  equals "$(KWH_DB="$T/$s.db" sql "SELECT count(*) FROM ledger WHERE ref LIKE 'hub:office-%'")" 1
  # The office's sales report, this site's rows: the site's own report to the minor unit.
  mine=$(at $s "$KWH" report sales --by account --format csv | tail -n +2 | grep -v '^total' | sort)
  theirs=$(office hub report sales --site $s --by account --format csv | tail -n +2 | grep -v '^total' | cut -d, -f2- | sort)
  [ "$(printf '%s\n' "$mine" | wc -l)" = 2 ] || fail "site $s's sales report has not its two accounts: $mine"
  equals "$theirs" "$mine"
  echo "$s: $(printf '%s\n' "$hub_ledger" | wc -l) ledger entries at the hub as at the site; sales by account $(echo $mine)"
done
expect_exit 0 office hub report sales --all --by account --format csv
equals "$(printf '%s\n' "$OUT" | tail -n +2 | cut -d, -f1 | grep -v '^total' | sort -u | tr '\n' ' ')" "north south "
expect_exit 0 office hub check --all
equals "$(psql_q "SELECT count(*) FROM alarms")" 0
echo "hub_sites: ok"
