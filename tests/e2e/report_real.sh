# The reports on data written by the real commands: credit sold and refunded with kwh sell and
# kwh refund, consumption billed by kwh reading import. The reports' figures must equal the
# ledger and the rollups that billing wrote, summed independently with sqlite3.
. "$(dirname "$0")/lib.sh"

cat > "$T/kwh.toml" <<'TOML'
timezone = "Asia/Shanghai"
TOML
export KWH_CONFIG="$T/kwh.toml"
kwh init >/dev/null
kwh tariff add flat --flat 1.2345 --effective 2026-01-01 >/dev/null
kwh gateway add gw --tcp 127.0.0.1:1502 >/dev/null
kwh meter add M1 --gateway gw --unit 1 --profile eastron-sdm120 --building A >/dev/null
kwh meter add M2 --gateway gw --unit 2 --profile eastron-sdm120 --building B >/dev/null
kwh account open A1 --name "Noodle bar" --tariff flat --meter M1 --opened 2026-01-01 >/dev/null
kwh account open A2 --name "Print shop" --tariff flat --meter M2 --opened 2026-01-01 >/dev/null

sold_from=$(TZ=Asia/Shanghai date +%F)
kwh sell A1 500 --method cash >/dev/null
kwh sell A1 120.50 --method card >/dev/null
kwh sell A2 300 --method transfer >/dev/null
kwh refund A2 25.25 >/dev/null
sold_to=$(TZ=Asia/Shanghai date +%F) # the same day, unless the site's midnight just passed

# Three days of half-hourly readings, ending an hour ago, so that they fall in this period.
now=$(date +%s)
start=$(( (now - 3 * 86400) / 1800 * 1800 ))
{
  echo "meter,time,energy_total"
  e1=1000000; e2=5000000; t=$start
  while [ $t -le $((now - 3600)) ]; do
    ts=$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ)
    echo "M1,$ts,$e1"; echo "M2,$ts,$e2"
    e1=$((e1 + 1234)); e2=$((e2 + 777)); t=$((t + 1800))
  done
} > "$T/readings.csv"
expect_exit 0 kwh reading import "$T/readings.csv"

from=$(TZ=Asia/Shanghai date -d "@$start" +%F)
to=$(TZ=Asia/Shanghai date -d "@$now" +%F)
q() { sqlite3 "$KWH_DB" "$1"; }
money() { q "SELECT printf('%.2f', ($1) / 100.0)"; }

# Sales over the whole span: the ledger's sale and refund rows.
expect_exit 0 kwh report sales --from "$from" --to "$to" --by year --json
equals "$(json 'sum(int(r["sales"].replace(".", "")) for r in d)' <<< "$OUT")" "$(q "SELECT SUM(amount) FROM ledger WHERE kind = 'sale'")"
equals "$(json 'sum(int(r["refunds"].replace(".", "")) for r in d)' <<< "$OUT")" "$(q "SELECT -SUM(amount) FROM ledger WHERE kind = 'refund'")"
equals "$(json 'sum(r["count"] for r in d)' <<< "$OUT")" 4

# The day's cash-up agrees three ways, by operator and method.
expect_exit 0 kwh report reconcile --from "$sold_from" --to "$sold_to" --format csv
contains "$OUT" "(all),(all),920.50,25.25,895.25,4,ledger"
contains "$OUT" "(all),(all),920.50,25.25,895.25,4,balances"
contains "$OUT" ",card,120.50,0.00,120.50,1,payments"

# Energy by meter: the rollups billing kept equal the consumption charged in the ledger.
expect_exit 0 kwh report energy --from "$from" --to "$to" --by meter --json
charged_wh=$(q "SELECT SUM(quantity) FROM charges")
charged=$(q "SELECT -SUM(amount) FROM charges")
[ "$charged_wh" -gt 0 ] || fail "the import charged nothing"
equals "$(json 'sum(int(r["energy_kwh"].replace(".", "")) for r in d)' <<< "$OUT")" "$charged_wh"
equals "$(json 'sum(int(r["cost"].replace(".", "")) for r in d)' <<< "$OUT")" "$charged"
m1_wh=$(q "SELECT SUM(quantity) FROM charges l JOIN meters m ON m.id = l.meter_id WHERE m.name = 'M1'")
equals "$(json '[r["energy_kwh"] for r in d if r["meter"] == "M1"][0].replace(".", "")' <<< "$OUT" | sed 's/^0*//')" "$m1_wh"
# By day, the same total: every rollup day falls in one site-local day of the period.
expect_exit 0 kwh report energy --from "$from" --to "$to" --by day --json
equals "$(json 'sum(int(r["cost"].replace(".", "")) for r in d)' <<< "$OUT")" "$charged"

# Balances and statements equal the accounts kwh keeps.
expect_exit 0 kwh report balances --json
equals "$(json '[r["balance"] for r in d if r["account"] == "A1"][0]' <<< "$OUT")" "$(money "SELECT balance FROM accounts WHERE name = 'A1'")"
expect_exit 0 kwh report statement --account A2 --from "$from" --to "$to" --json
equals "$(json 'd[-1]["balance"]' <<< "$OUT")" "$(money "SELECT balance FROM accounts WHERE name = 'A2'")"
contains "$(json 'd[-1]["note"]' <<< "$OUT")" "agrees with the ledger"
equals "$(json 'sum(r["quantity"] for r in d if r["kind"] == "consumption")' <<< "$OUT")" \
       "$(q "SELECT SUM(quantity) FROM charges l JOIN accounts a ON a.id = l.account_id WHERE a.name = 'A2'")"

# The raw export lists every imported reading.
expect_exit 0 kwh report readings --raw --from "$from" --to "$to" --format csv
equals "$(($(printf '%s\n' "$OUT" | wc -l) - 1))" "$(q 'SELECT (SELECT COUNT(*) FROM readings) + (SELECT SUM(n) FROM reading_blocks)')"
