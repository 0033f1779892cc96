# Every report in every format (table, csv, json, xlsx) on a fixture database: the CSV and
# JSON agree, the xlsx reads back as the CSV with typed cells, and the numbers agree with sums
# taken straight from the ledger and the rollups with sqlite3.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/report_fixture.sh"

XLSX_CHECKS=()
run_all_formats() { # NAME ARGS...: leaves $T/r-NAME.csv, .json, .txt and .xlsx
  local name=$1; shift
  local base="$T/r-$name"
  expect_exit 0 kwh report "$@" --format csv
  printf '%s\n' "$OUT" > "$base.csv"
  expect_exit 0 kwh report "$@" --json
  printf '%s\n' "$OUT" > "$base.json"
  expect_exit 0 kwh report "$@"
  printf '%s\n' "$OUT" > "$base.txt"
  expect_exit 0 kwh report "$@" --format xlsx --output "$base.xlsx"
  [ -s "$base.xlsx" ] || fail "$name: no xlsx written"
  XLSX_CHECKS+=("$base.xlsx" "$base.csv" "${name%%-*}")
}

run_all_formats sales sales "${NOV[@]}"
run_all_formats sales-month sales "${NOV[@]}" --by month
run_all_formats sales-operator sales "${NOV[@]}" --by operator
run_all_formats energy energy "${NOV[@]}"
run_all_formats energy-building energy "${NOV[@]}" --by building
run_all_formats energy-day energy "${NOV[@]}" --by day
run_all_formats balances balances
run_all_formats alarms alarms "${NOV[@]}"
run_all_formats offline offline
run_all_formats gateways gateways
run_all_formats readings readings
run_all_formats readings-raw readings --raw "${NOV[@]}"
run_all_formats reconcile reconcile --from 2026-11-03 --to 2026-11-03
run_all_formats statement statement --account A1 "${NOV[@]}"

# JSON: an array of row objects with the CSV's columns and the same values.
/usr/bin/python3 - "$T"/r-*.csv <<'PY' || fail "JSON and CSV differ"
import csv, json, sys
for path in sys.argv[1:]:
    rows = list(csv.DictReader(open(path, newline="")))
    data = json.load(open(path[:-4] + ".json"))
    assert isinstance(data, list) and len(data) == len(rows), (path, len(data), len(rows))
    for want, got in zip(rows, data):
        assert list(got.keys()) == list(want.keys()), (path, list(got.keys()), list(want.keys()))
        for k, v in want.items():
            if k in ("duration", "duration_s"): continue  # the reports ran a second apart
            g = got[k]
            text = "" if g is None else ("yes" if g is True else "no" if g is False else str(g))
            assert text == v, (path, k, g, v)
PY
# xlsx: each workbook reads back as its CSV, with typed cells.
xlsx_matches_csv "${XLSX_CHECKS[@]}" || fail "an xlsx differs from its CSV"

# Sales: the CSV header is the documented one, every day of November is a row, and the totals
# agree with the ledger summed by sqlite3 over the site-local month.
equals "$(head -1 "$T/r-sales.csv")" "period,sales,refunds,net,count"
equals "$(($(wc -l < "$T/r-sales.csv") - 1))" 30
from=$(q "SELECT unixepoch('2026-11-01 00:00:00+08:00')"); to=$(q "SELECT unixepoch('2026-12-01 00:00:00+08:00')")
ledger_sales=$(q "SELECT printf('%.2f', SUM(amount) / 100.0) FROM ledger WHERE kind = 'sale' AND time >= $from AND time < $to")
ledger_refunds=$(q "SELECT printf('%.2f', -SUM(amount) / 100.0) FROM ledger WHERE kind = 'refund' AND time >= $from AND time < $to")
equals "$ledger_sales" "280.50"   # the 00:30 sale on 1 November counts; the October one does not
equals "$(json 'd[0]["sales"]' < "$T/r-sales-month.json")" "$ledger_sales"
equals "$(json 'd[0]["refunds"]' < "$T/r-sales-month.json")" "$ledger_refunds"
equals "$(json 'd[0]["net"]' < "$T/r-sales-month.json")" "265.25"
equals "$(json 'd[0]["count"]' < "$T/r-sales-month.json")" 4
equals "$(json 'd[0]["sales"]' < "$T/r-sales.json")" "200.50"     # 1 November, site-local
equals "$(json '[r["period"] for r in d][0]' < "$T/r-sales.json")" "2026-11-01"
# The table has the totals row; CSV and JSON do not.
contains "$(cat "$T/r-sales.txt")" "total"
contains "$(tail -1 "$T/r-sales.txt")" "280.50"
not_contains "$(cat "$T/r-sales.csv")" "total"
equals "$(head -1 "$T/r-sales-operator.csv")" "operator,sales,refunds,net,count"
contains "$(cat "$T/r-sales-operator.csv")" "bob,50.00,15.25,34.75,2"

# Energy: from daily_usage, exact thousandths; water in its own column.
equals "$(head -1 "$T/r-energy.csv")" "meter,energy_kwh,volume_m3,cost"
equals "$(sed -n 2p "$T/r-energy.csv")" "M1,12.845,,12.34"
equals "$(sed -n 4p "$T/r-energy.csv")" "W1,,2.500,7.00"
usage_cost=$(q "SELECT printf('%.2f', SUM(cost) / 100.0) FROM daily_usage WHERE day >= $from AND day < $to")
contains "$(tail -1 "$T/r-energy.txt")" "$usage_cost"
equals "$(json 'sum(int(r["cost"].replace(".", "")) for r in d)' < "$T/r-energy-building.json")" \
       "$(q "SELECT SUM(cost) FROM daily_usage WHERE day >= $from AND day < $to")"
equals "$(head -1 "$T/r-energy-day.csv")" "period,energy_kwh,volume_m3,cost"

# Balances: one row per account; the CSV quotes a name with a comma; the sum equals the ledger.
equals "$(head -1 "$T/r-balances.csv")" "account,name,status,balance,credit_limit,alarm1,alarm2,meters"
contains "$(cat "$T/r-balances.csv")" 'A2,"Print shop, Ltd.",arrears,-25.25,0.00,20.00,5.00,M2'
equals "$(json 'd[0]["meters"]' < "$T/r-balances.json")" "M1 W1"
equals "$(json 'sum(int(r["balance"].replace(".", "")) for r in d)' < "$T/r-balances.json")" "$(q 'SELECT SUM(amount) FROM ledger')"

# Alarms: the active arrears and offline events, the ended alarm1 and overload; not meter_online.
equals "$(head -1 "$T/r-alarms.csv")" "time,kind,account,meter,gateway,detail,ended,active"
equals "$(json 'len(d)' < "$T/r-alarms.json")" 4
equals "$(json '",".join(r["kind"] for r in d if r["active"] == "yes")' < "$T/r-alarms.json")" "arrears,meter_offline"
expect_exit 0 kwh report alarms --active --format csv
equals "$(printf '%s\n' "$OUT" | wc -l)" 3

# Offline and gateways.
equals "$(head -1 "$T/r-offline.csv")" "kind,name,gateway,since,duration,duration_s"
contains "$(sed -n 2p "$T/r-offline.csv")" "gateway,gw-south,,2026-11-20T08:00:00+08:00"
contains "$(sed -n 3p "$T/r-offline.csv")" "meter,M2,gw-south,2026-11-20T08:00:00+08:00"
equals "$(head -1 "$T/r-gateways.csv")" "gateway,transport,address,status,since,meters,online,offline"
equals "$(sed -n 2p "$T/r-gateways.csv")" "gw-north,tcp,127.0.0.1:5020,online,2026-11-01T08:00:00+08:00,2,2,0"

# Readings: latest values and the raw export of the period.
equals "$(json 'd[0]["energy_kwh"]' < "$T/r-readings.json")" "1234.567"
equals "$(json 'd[0]["power_w"]' < "$T/r-readings.json")" "1500.5"
equals "$(json 'd[1]["volume_m3"]' < "$T/r-readings.json")" "4.321"
equals "$(head -1 "$T/r-readings-raw.csv")" "meter,time,energy_wh,volume_l,sharp_wh,peak_wh,flat_wh,valley_wh,power_w"
equals "$(sed -n 2p "$T/r-readings-raw.csv")" "M1,2026-11-01T00:00:00+08:00,1000000,,,400000,,600000,900"
equals "$(($(wc -l < "$T/r-readings-raw.csv") - 1))" \
       "$(q "SELECT COUNT(*) FROM readings WHERE t >= $from AND t < $to")"

# Reconcile on 3 November: bob's card sale and cash refund, and the three agreeing totals.
equals "$(head -1 "$T/r-reconcile.csv")" "operator,method,sales,refunds,net,count,source,meter_balance,ledger_balance"
contains "$(cat "$T/r-reconcile.csv")" "bob,card,50.00,0.00,50.00,1,payments"
contains "$(cat "$T/r-reconcile.csv")" "bob,cash,0.00,15.25,-15.25,1,payments"
contains "$(cat "$T/r-reconcile.csv")" "(all),(all),50.00,15.25,34.75,2,ledger"
contains "$(cat "$T/r-reconcile.csv")" "(all),(all),50.00,15.25,34.75,2,balances"

# Statement: opening 100.00 (the October sale), closing equals the ledger and the balance.
equals "$(json 'd[0]["kind"]' < "$T/r-statement.json")" "opening"
equals "$(json 'd[0]["balance"]' < "$T/r-statement.json")" "100.00"
equals "$(json 'd[-1]["balance"]' < "$T/r-statement.json")" \
       "$(q "SELECT printf('%.2f', balance / 100.0) FROM accounts WHERE name = 'A1'")"
contains "$(json 'd[-1]["note"]' < "$T/r-statement.json")" "opening 100.00 + movements 211.16 = closing 311.16"
equals "$(json '[r["quantity"] for r in d if r["kind"] == "consumption" and r["band"] == "peak"][0]' < "$T/r-statement.json")" 12345

# --output works for csv too, written whole.
expect_exit 0 kwh report balances --format csv --output "$T/out.csv"
equals "$(cat "$T/out.csv")" "$(cat "$T/r-balances.csv")"
[ -z "$(ls "$T" | grep '\.tmp$' || true)" ] || fail "temporary files left behind"
