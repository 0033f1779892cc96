# Emergency credit end to end with the real kwh binary: refused while not offered (65, nothing
# written), `kwh account credit` by a cashier once the balance is at 0, relays closed again, the
# status emergency, never twice, consumption into arrears, the next sale repaying it first (the
# receipt and --json show the split, balances to the cent), a refund held to what is the
# tenant's, kwh check clean; then [billing] emergency_credit_auto granting it by itself; then
# debts recovered from sales within the cap, report debts and emergency, kwh check on debts.
. "$KWH_SOURCE/tests/e2e/lib.sh"

command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"
q() { sqlite3 "$KWH_DB" "$1"; }
export KWH_CONFIG="$T/kwh.toml"

cat >"$KWH_CONFIG" <<'TOML'
[billing]
emergency_credit = "5"
TOML
kwh init >/dev/null
q "INSERT INTO gateways(name, transport, address, created) VALUES ('g1', 'tcp', '127.0.0.1:5020', 0);
   INSERT INTO meters(name, gateway_id, unit, profile, kind, created) VALUES ('M1', 1, 1, 'acrel-ddsy1352', 'electricity', 0);
   INSERT INTO meters(name, gateway_id, unit, profile, kind, created) VALUES ('M2', 1, 2, 'acrel-ddsy1352', 'electricity', 0);"
expect_exit 0 kwh tariff add std --flat 1.0000
expect_exit 0 kwh account open A1 --name "Shop One" --tariff std --meter M1 --opened 2026-01-01T00:00:00Z
expect_exit 0 kwh account open A2 --name "Shop Two" --tariff std --meter M2 --opened 2026-01-01T00:00:00Z \
  --emergency-credit 0
expect_exit 0 kwh sell A1 10

show() { kwh account show A1 --json | json "d[\"$1\"]"; }
import() { printf 'meter,time,energy_total\n%s\n' "$1" >"$T/r.csv"; expect_exit 0 kwh reading import "$T/r.csv"; }
equals "$(show emergency_credit)" "5.00"

# Not offered while the balance is above 0: refused with the reason, nothing written.
rows=$(q "SELECT count(*) FROM ledger")
expect_exit 65 kwh account credit A1
expect_one_line_error
contains "$ERR" "above"
expect_exit 65 kwh account credit A2
contains "$ERR" "no emergency credit"
expect_exit 66 kwh account credit NOSUCH
equals "$(q "SELECT count(*) FROM ledger")" "$rows"

# 10 kWh: balance 0, arrears, the relay to be opened.
import "M1,2026-01-02T00:00:00Z,0
M1,2026-01-02T10:00:00Z,10000"
equals "$(show balance)" "0.00"
equals "$(show status)" "arrears"
equals "$(q "SELECT count(*) FROM commands WHERE action = 'relay_off' AND state = 'pending'")" "1"
q "UPDATE commands SET state = 'done'; UPDATE meters SET relay_state = 'off', relay_reason = 'arrears' WHERE name = 'M1';"

# A cashier grants it; the relay closes again.
expect_exit 0 kwh account credit A1 --json
equals "$(echo "$OUT" | json 'd["granted"]')" "5.00"
equals "$(echo "$OUT" | json 'd["balance"]')" "5.00"
equals "$(echo "$OUT" | json 'd["status"]')" "emergency"
equals "$(echo "$OUT" | json 'd["relay_commands"]')" "1"
equals "$(show emergency_owed)" "5.00"
equals "$(q "SELECT action || ' ' || reason FROM commands WHERE state = 'pending'")" "relay_on emergency"
equals "$(q "SELECT count(*) FROM events WHERE kind = 'emergency_credit'")" "1"
equals "$(kwh account list --status emergency --format csv | tail -n +2 | cut -d, -f1)" "A1"
equals "$(kwh account list --format csv | head -1 | tr ',' '\n' | tail -2 | head -1)" "emergency_owed"
# Never twice before it is repaid.
expect_exit 65 kwh account credit A1
contains "$ERR" "owes 5.00"
q "UPDATE commands SET state = 'done'; UPDATE meters SET relay_state = 'on', relay_reason = NULL WHERE name = 'M1';"

# 8 kWh more: -3.00, arrears again.
import "M1,2026-01-02T12:00:00Z,18000"
equals "$(show balance)" "-3.00"
equals "$(show status)" "arrears"

# A sale of 20.00: 5.00 repays the emergency credit first; -3.00 + 15.00 = 12.00.
expect_exit 0 kwh sell A1 20 --ref till-7 --json
equals "$(echo "$OUT" | json 'd["emergency_repaid"]')" "5.00"
equals "$(echo "$OUT" | json 'd["balance"]')" "12.00"
equals "$(echo "$OUT" | json 'd["status"]')" "ok"
equals "$(show emergency_owed)" "0.00"
expect_exit 0 kwh sell A1 20 --ref till-7 --receipt -
contains "$OUT" "Emergency repaid"
contains "$OUT" "Credit bought"
contains "$OUT" "Reprint"
expect_exit 0 kwh sell A1 20 --ref till-7
contains "$OUT" "emergency credit repaid 5.00; balance 12.00"
equals "$(q "SELECT group_concat(kind || ':' || amount, ' ') FROM ledger WHERE account_id = 1 AND kind IN ('emergency', 'sale')")" \
  "sale:1000 emergency:500 sale:2000 emergency:-500"

# Refunds take what is the tenant's only.
expect_exit 65 kwh account credit A1
import "M1,2026-01-02T14:00:00Z,30000"
equals "$(show balance)" "0.00"
expect_exit 0 kwh account credit A1
expect_exit 0 kwh sell A1 2
equals "$(show emergency_owed)" "3.00"
equals "$(show balance)" "5.00"
expect_exit 65 kwh refund A1 2.01
contains "$ERR" "emergency credit"
expect_exit 0 kwh refund A1 2
expect_exit 0 kwh check

# Automatically: the reading that reaches the offer takes it, and no arrears are written.
cat >"$KWH_CONFIG" <<'TOML'
[billing]
emergency_credit = "5"
emergency_credit_auto = true
TOML
expect_exit 0 kwh account open A3 --name "Shop Three" --tariff std --opened 2026-01-01T00:00:00Z
q "INSERT INTO meters(name, gateway_id, unit, profile, kind, created) VALUES ('M3', 1, 3, 'acrel-ddsy1352', 'electricity', 0);"
expect_exit 0 kwh account attach A3 M3 --time 2026-01-01T00:00:00Z
expect_exit 0 kwh sell A3 1
import "M3,2026-01-03T00:00:00Z,0
M3,2026-01-03T01:00:00Z,1000
M3,2026-01-03T02:00:00Z,3000"
equals "$(kwh account show A3 --json | json 'd["balance"]')" "3.00"
equals "$(kwh account show A3 --json | json 'd["status"]')" "emergency"
equals "$(q "SELECT count(*) FROM ledger l JOIN accounts a ON a.id = l.account_id WHERE a.name = 'A3' AND l.kind = 'emergency' AND l.operator = 'kwh'")" "1"
equals "$(q "SELECT count(*) FROM events e JOIN accounts a ON a.id = e.account_id WHERE a.name = 'A3' AND e.kind = 'arrears'")" "0"
expect_exit 0 kwh check
# Debts: recorded apart from the balance, a share of each sale after emergency credit, capped
# so that half of what is left buys energy; report debts; kwh check finds a tampered debt.
expect_exit 0 kwh sell A2 50
expect_exit 0 kwh account debt add A2 100 --note "arrears from 2025" --recover 30% -q
equals "$OUT" "1"
expect_exit 0 kwh account debt add A2 40 --note "a broken meter" --recover 100%
expect_exit 0 kwh account debt add A2 5 --note "meter seal" --fixed 1 --every week
expect_exit 64 kwh account debt add A2 5 --note x --fixed 1 --every day
expect_exit 65 kwh account debt add A2 5 --note x --fixed 1
expect_exit 65 kwh account debt add A2 0 --note x --recover 10%
expect_exit 66 kwh account debt add NOSUCH 5 --note x --recover 10%
equals "$(kwh account show A2 --json | json 'd["balance"]')" "50.00"
# A sale of 100.00: debt 1 asks 30.00, debt 2 asks 40.00 (all of it); the cap of 50.00 leaves
# debt 2 20.00 of it.
expect_exit 0 kwh sell A2 100 --json
equals "$(echo "$OUT" | json 'd["debt_recovered"]')" "50.00"
equals "$(echo "$OUT" | json 'd["balance"]')" "100.00"
# The next: debt 1 asks 30.00 again, debt 2 its last 20.00.
expect_exit 0 kwh sell A2 100 --receipt -
contains "$OUT" "Debt recovered"
equals "$(kwh account show A2 --json | json 'd["balance"]')" "150.00"
expect_exit 0 kwh report debts --format csv
equals "$(echo "$OUT" | head -1)" "account,name,debt,created,amount,recovered,remaining,recover_share,fixed,every,next_due,note"
equals "$(echo "$OUT" | grep -c '^A2,')" "2"
contains "$OUT" "A2,Shop Two,1,"
contains "$OUT" ",100.00,60.00,40.00,30%,"
equals "$(kwh account show A2 --json | json 'd["debt"]')" "45.00"
equals "$(kwh account show A2 --json | json '[(x["debt"], x["remaining"], x["recover_share"], x["fixed"], x["every"]) for x in d["debts"]]')" \
  '[[1, "40.00", 30, null, null], [3, "5.00", null, "1.00", "week"]]'
contains "$(kwh account show A2)" "1: 40.00 left, 30% of each sale (arrears from 2025); 3: 5.00 left, 1.00 a week (meter seal)"
expect_exit 0 kwh account debt list A2 --all --json
equals "$(echo "$OUT" | json 'len(d)')" "3"
expect_exit 0 kwh account debt list --json
equals "$(echo "$OUT" | json 'len(d)')" "2"
equals "$(q "SELECT count(*) FROM ledger WHERE kind = 'debt' AND debt_id IS NOT NULL")" "4"
expect_exit 0 kwh report emergency --format csv
contains "$OUT" "A1,Shop One,"
# The statement lists the recoveries and, after its closing row, what the debts still owe with
# their schedules.
expect_exit 0 kwh report statement --account A2 --from 2026-01-01 --to "$(date -u -d tomorrow +%F)" --format csv
equals "$(echo "$OUT" | grep -c '^[^,]*,debt,-')" "4"
contains "$OUT" ",debt,40.00,"
contains "$OUT" "debt 1: arrears from 2025; recovered 30% of each sale"
contains "$OUT" ",debt,5.00,"
contains "$OUT" "debt 3: meter seal; recovered 1.00 a week"
expect_exit 0 kwh check
q "UPDATE debts SET remaining = 1 WHERE id = 1"
expect_exit 1 kwh check
contains "$OUT$ERR" "debt 1"
echo "billing_emergency: ok"
