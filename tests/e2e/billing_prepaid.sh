# Prepaid billing end to end with the real kwh binary: a tariff, an account with a meter,
# sales, imported readings billing it down through alarm1, alarm2 and arrears (balances to the
# cent), the relay_off queued, a top-up that queues relay_on, refunds, --ref replay and
# conflict, concurrent sells with one --ref, and the three-part receipt.
. "$KWH_SOURCE/tests/e2e/lib.sh"

command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"
q() { sqlite3 "$KWH_DB" "$1"; }

kwh init >/dev/null
# A gateway and a meter: through the site commands when they work, else with SQL.
if ! kwh gateway add g1 --tcp 127.0.0.1:5020 >/dev/null 2>&1 ||
   ! kwh meter add M1 --gateway g1 --unit 1 --profile acrel-ddsy1352 >/dev/null 2>&1; then
  q "INSERT OR IGNORE INTO gateways(name, transport, address, created) VALUES ('g1', 'tcp', '127.0.0.1:5020', 0);
     INSERT INTO meters(name, gateway_id, unit, profile, kind, created) VALUES ('M1', 1, 1, 'acrel-ddsy1352', 'electricity', 0);"
fi

# Tariffs: a flat price; a bad file is 65 naming file:line and the key.
expect_exit 0 kwh tariff add std --flat 1.0000
cat >"$T/bad.toml" <<'TOML'
unit = "kWh"
price = "1.0000"
colour = "blue"
TOML
expect_exit 65 kwh tariff add bad --file "$T/bad.toml"
expect_one_line_error
contains "$ERR" "bad.toml:3"
contains "$ERR" "colour"
expect_exit 66 kwh account open X --name X --tariff nosuch

expect_exit 0 kwh account open A1 --name "Shop One" --tariff std --meter M1 --alarm1 50 --alarm2 20 \
  --opened 2026-01-01T00:00:00Z
# A meter is in at most one open account.
expect_exit 65 kwh account open A2 --name "Shop Two" --tariff std --meter M1
expect_one_line_error

expect_exit 0 kwh sell A1 100 --json
equals "$(echo "$OUT" | json 'd["balance"]')" "100.00"
equals "$(echo "$OUT" | json 'd["replayed"]')" "False"
expect_exit 66 kwh sell NOSUCH 10
expect_exit 65 kwh sell A1 0
expect_exit 65 kwh sell A1 1.005

balance() { kwh account show A1 --json | json 'd["balance"]'; }
status() { kwh account show A1 --json | json 'd["status"]'; }
import() { printf 'meter,time,energy_total\n%s\n' "$1" >"$T/r.csv"; expect_exit 0 kwh reading import "$T/r.csv"; }

# 12.345 kWh at 1.00 -> 12.34 (0.005 carried), then 5 Wh -> 0.01.
import "M1,2026-01-01T00:00:00Z,1000
M1,2026-01-01T10:00:00Z,13345
M1,2026-01-01T11:00:00Z,13350"
equals "$(balance)" "87.65"
equals "$(status)" "ok"
import "M1,2026-01-01T13:00:00Z,53350"
equals "$(balance)" "47.65"
equals "$(status)" "alarm1"
import "M1,2026-01-01T14:00:00Z,83350"
equals "$(balance)" "17.65"
equals "$(status)" "alarm2"
equals "$(q "SELECT count(*) FROM commands")" "0"
import "M1,2026-01-01T15:00:00Z,103350"
equals "$(balance)" "-2.35"
equals "$(status)" "arrears"
equals "$(q "SELECT count(*) FROM events WHERE kind IN ('alarm1','alarm2','arrears')")" "3"
equals "$(q "SELECT action || ' ' || reason || ' ' || state FROM commands")" "relay_off arrears pending"
equals "$(kwh account list --status arrears -q)" "A1"

# The same file again is skipped; a different value at a stored time, an older time, or a bad
# line rejects the whole file with the line numbers, and nothing is written.
expect_exit 0 kwh reading import "$T/r.csv" --json
equals "$(echo "$OUT" | json 'd["skipped"]')" "1"
rows=$(q "SELECT count(*) FROM ledger")
printf 'meter,time,energy_total\nM1,2026-01-01T16:00:00Z,103400\nM1,2026-01-01T15:00:00Z,1\nM1,yesterday,5\nM1,2026-01-01T12:00:00Z,30000\nNOPE,2026-01-01T17:00:00Z,1\n' >"$T/bad.csv"
expect_exit 65 kwh reading import "$T/bad.csv"
expect_one_line_error
contains "$ERR" "bad lines 3, 4, 5, 6"
equals "$(q "SELECT count(*) FROM ledger")" "$rows"
# Imported readings are packed into blocks: six in all, counted in both tiers.
equals "$(q "SELECT (SELECT count(*) FROM readings) + (SELECT coalesce(sum(n), 0) FROM reading_blocks)")" "6"

# The daemon carries out the disconnection.
q "UPDATE commands SET state = 'done'; UPDATE meters SET relay_state = 'off'"
# A top-up above reconnect_above (0) queues relay_on.
expect_exit 0 kwh sell A1 10 --method card --json
equals "$(echo "$OUT" | json 'd["balance"]')" "7.65"
equals "$(status)" "alarm2"
equals "$(q "SELECT action || ' ' || reason || ' ' || state FROM commands WHERE action = 'relay_on'")" "relay_on topup pending"

# Refunds never exceed the balance.
expect_exit 65 kwh refund A1 7.66
expect_one_line_error
expect_exit 0 kwh refund A1 7.65 --json
equals "$(echo "$OUT" | json 'd["balance"]')" "0.00"

# --ref: the same request replays the first result; anything different is 65 and writes nothing.
expect_exit 0 kwh sell A1 5 --ref POS-1 --json
first=$(echo "$OUT" | json 'd["receipt"]')
equals "$(echo "$OUT" | json 'd["replayed"]')" "False"
expect_exit 0 kwh sell A1 5 --ref POS-1 --json
equals "$(echo "$OUT" | json 'd["replayed"]')" "True"
equals "$(echo "$OUT" | json 'd["receipt"]')" "$first"
equals "$(echo "$OUT" | json 'd["balance"]')" "5.00"
expect_exit 65 kwh sell A1 6 --ref POS-1
expect_one_line_error
expect_exit 65 kwh refund A1 5 --ref POS-1
equals "$(q "SELECT count(*) FROM ledger WHERE ref = 'POS-1'")" "1"
equals "$(balance)" "5.00"

# Two sellers at once with the same --ref: exactly one ledger row, the other replays.
kwh sell A1 20 --ref RACE --json >"$T/s1" 2>&1 &
p1=$!; track $p1
kwh sell A1 20 --ref RACE --json >"$T/s2" 2>&1 &
p2=$!; track $p2
wait $p1 || fail "first concurrent sell failed: $(cat "$T/s1")"
wait $p2 || fail "second concurrent sell failed: $(cat "$T/s2")"
equals "$(q "SELECT count(*) FROM ledger WHERE ref = 'RACE'")" "1"
equals "$(cat "$T/s1" "$T/s2" | grep -c '"replayed": true')" "1"
equals "$(balance)" "25.00"

# The three-part receipt, at most 42 columns wide.
expect_exit 0 kwh sell A1 1.50 --receipt "$T/receipt.txt"
equals "$(grep -c 'COPY' "$T/receipt.txt")" "3"
contains "$(cat "$T/receipt.txt")" "CNY 1.50"
contains "$(cat "$T/receipt.txt")" "CNY 26.50"
contains "$(cat "$T/receipt.txt")" "Shop One"
[ "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$T/receipt.txt")" -le 42 ] || fail "receipt wider than 42 columns"
# The next receipt replaces the file whole; a device (a receipt printer) or a pipe is written
# as it is, and no file is left beside either.
expect_exit 0 kwh refund A1 0.50 --receipt "$T/receipt.txt"
equals "$(grep -c 'COPY' "$T/receipt.txt")" "3"
contains "$(cat "$T/receipt.txt")" "CNY 26.00"
mkfifo "$T/printer"
cat "$T/printer" >"$T/printed.txt" &
expect_exit 0 kwh sell A1 0.50 --receipt "$T/printer"
wait
contains "$(cat "$T/printed.txt")" "CNY 26.50"
# A sale and a refund to a printer again, one after the other (a FIFO of the test's own).
cat "$T/printer" >"$T/printed2.txt" &
expect_exit 0 kwh sell A1 0.50 --receipt "$T/printer"
wait
cat "$T/printer" >"$T/printed3.txt" &
expect_exit 0 kwh refund A1 0.50 --receipt "$T/printer"
wait
contains "$(cat "$T/printed2.txt")" "CNY 27.00"
contains "$(cat "$T/printed3.txt")" "REFUND"
[ -p "$T/printer" ] || fail "the printer FIFO was replaced"
equals "$(ls "$T" | grep -c '^receipt\.txt\.\|^printer\.')" "0"

# The ledger verifies; closing needs --refund while there is money on the account.
equals "$(q "SELECT balance FROM accounts WHERE name = 'A1'")" "$(q "SELECT sum(amount) FROM ledger")"
expect_exit 65 kwh account close A1
expect_exit 0 kwh account close A1 --refund --json
equals "$(echo "$OUT" | json 'd["status"]')" "closed"
equals "$(echo "$OUT" | json 'd["refund"]')" "26.50"
expect_exit 65 kwh sell A1 10
echo "billing_prepaid: ok"
