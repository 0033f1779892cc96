#!/usr/bin/env bash
# Top-ups sold at the office (kwh hub sell, kwh-hub(1)) on a real PostgreSQL, with no site
# database at the office: the site's kwhd applies an intent once and --wait prints its receipt;
# the same --ref twice is one sale; an unknown account is refused with the reason at the hub;
# with the hub stopped (a dead WAN) the office's sale fails cleanly and the site sells on; with
# the site's kwhd stopped --wait says queued (exit 75), and the intent is applied once when kwhd
# is back. The day's usage at the hub ends equal to the site's ([hub] usage_every). Then the
# hub's reports agree with the site's to the minor unit, and kwh hub check is
# clean until a ledger row is altered at the hub.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
source "$KWH_SOURCE/tests/e2e/hub_lib.sh"
need_sqlite3
need_pg
start_pg

hub_site north "$PG_URL" 2 'usage_every = "1s"' 'retry = "300ms"'
kwh account open A3 --name "Closed Shop" --tariff flat >/dev/null
kwh account close A3 >/dev/null
export KWH_CONFIG="$T/kwh.toml"

# A hub without kwh's schema (or with an older one): the office's commands say what to run
# (office: no site database, no kwh.toml).
expect_exit 1 office hub report sales --all
expect_one_line_error
contains "$ERR" "run 'kwh hub init'"
expect_exit 0 office hub init
contains "$OUT" "schema version $HUB_SCHEMA"
[ ! -e "$T/no-such-site.db" ] || fail "the office's kwh hub init made a site database"
# An office's kwh.toml may name the hub alone; kwhd refuses it (a site pushes under its site_id).
printf '[hub]\nurl = "%s"\n' "$PG_URL" >"$T/office.toml"
expect_exit 0 env -u KWH_HUB_URL KWH_CONFIG="$T/office.toml" KWH_DB="$T/no-such-site.db" "$KWH" hub report sales --all
expect_exit 78 "$KWHD" --config "$T/office.toml" --check-config
expect_one_line_error
contains "$ERR" "site_id"
equals "$(psql_q "SELECT max(version) FROM hub_schema_version")" "$HUB_SCHEMA"

# A site the hub does not know yet.
expect_exit 66 office hub sell north A1 10 --ref too-early
expect_one_line_error

start_kwhd
registered() { [ "$(psql_q "SELECT count(*) FROM sites WHERE site_id = 'north'")" = 1 ]; }
wait_for 20 registered || { cat "$T/kwhd.err" >&2; fail "the site did not register at the hub"; }

# An office sale, applied once; --wait prints the site's receipt.
expect_exit 0 office hub sell north A1 12.34 --ref office-1 --method card --wait 20
contains "$OUT" "receipt"
contains "$OUT" "12.34"
equals "$(sql "SELECT count(*) FROM ledger WHERE ref = 'hub:office-1'")" 1
equals "$(sql "SELECT amount || ' ' || method || ' ' || operator FROM ledger WHERE ref = 'hub:office-1'")" \
  "1234 card hub:postgres"
receipt=$(sql "SELECT receipt FROM ledger WHERE ref = 'hub:office-1'")
contains "$OUT" "receipt $receipt"
equals "$(psql_q "SELECT state || ' ' || receipt || ' ' || operator FROM intents WHERE ref = 'office-1'")" \
  "done $receipt postgres"
# The same ref again: no second intent, no second sale, the first receipt.
expect_exit 0 office hub sell north A1 12.34 --ref office-1 --method card --wait 5 --json
equals "$(echo "$OUT" | json 'd["existing"]')" True
equals "$(echo "$OUT" | json 'd["receipt"]')" "$receipt"
equals "$(echo "$OUT" | json 'd["amount"]')" "12.34"
equals "$(psql_q "SELECT count(*) FROM intents WHERE ref = 'office-1'")" 1
# The same ref for another amount is refused at the office.
expect_exit 65 office hub sell north A1 99 --ref office-1
expect_one_line_error
# The sale reaches the hub's ledger through the outbox like any other.
hub_has() { [ "$(psql_q "SELECT count(*) FROM ledger WHERE site_id = 'north' AND ref = '$1'")" = 1 ]; }
wait_for 20 hub_has hub:office-1 || fail "the office sale's ledger entry did not reach the hub"
equals "$(sql "SELECT count(*) FROM ledger WHERE ref = 'hub:office-1'")" 1

# Refused: an unknown account and a closed one, with the reason at the hub.
expect_exit 65 office hub sell north NOPE 5 --ref office-2 --wait 20
expect_one_line_error
contains "$ERR" "NOPE"
[ -n "$(psql_q "SELECT error FROM intents WHERE ref = 'office-2' AND state = 'refused'")" ] ||
  fail "no reason at the hub: $(psql_q "SELECT * FROM intents WHERE ref = 'office-2'")"
expect_exit 65 office hub sell north A3 5 --ref office-3 --wait 20
contains "$(psql_q "SELECT state || ' ' || error FROM intents WHERE ref = 'office-3'")" "refused"
contains "$ERR" "closed"
# Money by the site's rules: more decimals than the site has is refused before the hub.
expect_exit 65 office hub sell north A1 1.234 --ref office-4
expect_one_line_error

# A dead WAN: the office's sale fails cleanly (69, one line); the site sells on.
pg_stop
expect_exit 69 office hub sell north A1 7 --ref office-5
expect_one_line_error
expect_exit 0 kwh sell A2 3.21 --ref till-1
pg_start

# The site's kwhd stopped: --wait 2 says queued (75); kwhd back, the intent is applied once.
kill -TERM "$KWHD_PID"
wait "$KWHD_PID" 2>/dev/null || true
expect_exit 75 office hub sell north A2 4.56 --ref office-6 --wait 2
contains "$ERR" "queued"
expect_one_line_error
equals "$(psql_q "SELECT state FROM intents WHERE ref = 'office-6'")" pending
start_kwhd
applied() { [ "$(psql_q "SELECT state FROM intents WHERE ref = 'office-6'")" = done ]; }
wait_for 20 applied || { cat "$T/kwhd.err" >&2; fail "the queued intent was not applied"; }
expect_exit 0 office hub sell north A2 4.56 --ref office-6 --wait 2
contains "$OUT" "4.56"
equals "$(sql "SELECT count(*) FROM ledger WHERE ref = 'hub:office-6'")" 1
# Applied but the answer lost: the intent put back to pending replays the first sale.
psql_q "UPDATE intents SET state = 'pending', receipt = NULL, balance = NULL WHERE ref = 'office-6'"
wait_for 20 applied || fail "the re-pending intent was not answered"
equals "$(sql "SELECT count(*) FROM ledger WHERE ref = 'hub:office-6'")" 1
equals "$(psql_q "SELECT receipt FROM intents WHERE ref = 'office-6'")" \
  "$(sql "SELECT receipt FROM ledger WHERE ref = 'hub:office-6'")"

# The hub's reports: once the hub holds the site's ledger, sales agree to the minor unit.
for i in $(seq 1 5); do kwh sell A$((i % 2 + 1)) "0.0$i" --ref "small-$i" >/dev/null; done
kwh refund A1 0.50 --ref back-1 >/dev/null
wait_for 30 ledgers_agree north || { cat "$T/kwhd.err" >&2; fail "the hub did not get the site's ledger"; }
for by in day account operator; do
  expect_exit 0 office hub report sales --all --by "$by" --format csv
  hub_csv=$OUT
  equals "$(printf '%s\n' "$hub_csv" | head -1)" "site,$(kwh report sales --by "$by" --format csv | head -1)"
  equals "$(printf '%s\n' "$hub_csv" | tail -n +2 | cut -d, -f2-)" "$(kwh report sales --by "$by" --format csv | tail -n +2)"
done
expect_exit 0 office hub report sales --site north
equals "$(printf '%s\n' "$OUT" | grep '^total' | tr -s ' ')" "$(kwh report sales | grep '^total' | tr -s ' ' | sed 's/^total/total/')"
expect_exit 0 office hub report sales --all --format json
expect_exit 64 office hub report sales
expect_exit 66 office hub report sales --site nowhere

# Energy and balances agree once the site stops moving: the simulator stopped, the day's last
# usage pushed although it changed faster than usage_every (1s here) lets a mark be made.
stop_sim "$SIM_PID" "$SIM_OUT"
sleep 2
usage_site() { sql "SELECT day, meter_id, account_id, quantity, cost FROM daily_usage ORDER BY 1, 2, 3"; }
usage_hub() { psql_q "SELECT day, meter_id, account_id, quantity, cost FROM daily_usage WHERE site_id = 'north' ORDER BY 1, 2, 3"; }
usage_in_step() { [ "$(usage_site)" = "$(usage_hub)" ]; }
wait_for 20 usage_in_step || fail "the hub's daily usage differs: $(usage_site) / $(usage_hub)"
for by in meter account day; do
  expect_exit 0 office hub report energy --all --by "$by" --format csv
  equals "$(printf '%s\n' "$OUT" | tail -n +2 | cut -d, -f2-)" "$(kwh report energy --by "$by" --format csv | tail -n +2)"
done
expect_exit 0 office hub report balances --site north --format csv
equals "$(printf '%s\n' "$OUT" | head -1)" "site,$(kwh report balances --format csv | head -1)"
# Every column to the minor unit, the balances with the consumption billed since the last
# ledger entry ([hub] usage_every): the hub's balances are the site's.
balances_in_step() {
  expect_exit 0 office hub report balances --site north --format csv
  [ "$(printf '%s\n' "$OUT" | tail -n +2 | cut -d, -f2-)" = "$(kwh report balances --format csv | tail -n +2)" ]
}
wait_for 20 balances_in_step ||
  fail "the hub's balances differ: $(printf '%s\n' "$OUT" | tail -n +2) / $(kwh report balances --format csv | tail -n +2)"
consumed=$(sql "SELECT count(*) FROM accounts a WHERE balance <> (SELECT balance FROM ledger WHERE account_id = a.id ORDER BY id DESC LIMIT 1)")
[ "$consumed" -gt 0 ] || fail "no account consumed since its last ledger entry: the comparison proves nothing"

# kwh hub check: clean; then a hub ledger row altered with psql is named.
expect_exit 0 office hub check
contains "$OUT" "clean"
expect_exit 0 office hub check --site north
altered=$(psql_q "SELECT id FROM ledger WHERE site_id = 'north' AND ref = 'hub:office-1'")
psql_q "UPDATE ledger SET amount = amount + 100, balance = balance + 100 WHERE site_id = 'north' AND id = $altered"
expect_exit 1 office hub check --all
contains "$OUT" "ledger entry $altered does not match its hash"
psql_q "UPDATE ledger SET amount = amount - 100, balance = balance - 100 WHERE site_id = 'north' AND id = $altered"
expect_exit 0 office hub check
psql_q "DELETE FROM site_rows WHERE site_id = 'north' AND seq = 5"
expect_exit 1 office hub check --site north
contains "$OUT" "seq 5 to 5 are missing"
