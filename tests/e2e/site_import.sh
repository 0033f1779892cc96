#!/usr/bin/env bash
# kwh gateway import, kwh meter import and kwh account import: a site commissioned from a sheet.
# One transaction per file: every bad row is printed as FILE:LINE: reason and the file is
# rejected whole (65, nothing written); --dry-run writes nothing; rows as stored are skipped and
# rows that differ need --update; an opening balance is a ledger entry of its own kind that
# chains and verifies; one audit entry per file with its SHA-256; what the lists print with
# --format csv imports unchanged, into the same database and into a new one; the example sheet
# imports into a fresh database.
source "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"
ex=$KWH_SOURCE/examples
sql() { sqlite3 "$KWH_DB" "$@"; }

kwh init >/dev/null
kwh tariff add flat --flat 1.00 >/dev/null

# Gateways --------------------------------------------------------------------------------------
cat >"$T/gateways.csv" <<'EOF'
name,tcp,rtu,dlt645_tcp,baud,parity,timeout_ms,gap_ms
gw1,127.0.0.1:15020,,,,,300,50
gw2,,/dev/ttyUSB0,,19200,E,,
gw3,,,127.0.0.1:4001,,,,
EOF
expect_exit 0 kwh gateway import "$T/gateways.csv"
equals "$OUT" "imported $T/gateways.csv: 3 added, 0 updated, 0 skipped"
expect_exit 0 kwh gateway show gw2 --json
equals "$(echo "$OUT" | json 'd["baud"], d["parity"], d["stop_bits"]')" "(19200, 'E', 1)"
equals "$(kwh gateway show gw3 --json | json 'd["protocol"]')" "dlt645"
# Again: nothing differs, nothing is written.
expect_exit 0 kwh gateway import "$T/gateways.csv"
equals "$OUT" "imported $T/gateways.csv: 0 added, 0 updated, 3 skipped"

cat >"$T/bad-gateways.csv" <<'EOF'
name,tcp,rtu,baud
gw4,127.0.0.1:15021,/dev/ttyS0,
gw5,,,
gw6,127.0.0.1,,
gw7,127.0.0.1:15022,,9600
bad name,127.0.0.1:15023,,
EOF
expect_exit 65 kwh gateway import "$T/bad-gateways.csv"
equals "$(printf '%s\n' "$ERR" | wc -l)" 6
contains "$ERR" "$T/bad-gateways.csv:2: give one of tcp"
contains "$ERR" "$T/bad-gateways.csv:3: a new gateway needs"
contains "$ERR" "$T/bad-gateways.csv:4: "
contains "$ERR" "$T/bad-gateways.csv:5: "
contains "$ERR" "$T/bad-gateways.csv:6: "
contains "$(printf '%s\n' "$ERR" | tail -1)" "kwh: $T/bad-gateways.csv: rejected, nothing imported: 5 bad rows"
equals "$(sql 'SELECT count(*) FROM gateways')" 3

# Meters ----------------------------------------------------------------------------------------
cat >"$T/meters.csv" <<'EOF'
id,gateway,unit,address,device,profile,kind,building,room,relay_mode,overload_w
M1,gw1,1,,,acrel-ddsy1352,,North,101,,
M2,gw1,2,,,acrel-ddsy1352,electricity,North,"102, corner",protect,8000
M3,gw1,3,,D1,acrel-adf400l-3p,,North,103,,
M6,gw1,6,,D1,acrel-adf400l-1p,,North,106,,
E1,gw3,,000012345678,,acrel-dtsy1352-dlt645,,South,S1,,
W1,gw2,1,,,generic-water,water,South,,off,
EOF
expect_exit 0 kwh meter import "$T/meters.csv" --dry-run
contains "$OUT" "would be 6 added, 0 updated, 0 skipped; nothing written"
equals "$(sql 'SELECT count(*) FROM meters')" 0
expect_exit 0 kwh meter import "$T/meters.csv" --dry-run --json
equals "$(echo "$OUT" | json 'd["added"], d["written"], d["dry_run"], len(d["rows"])')" "(6, False, True, 6)"
equals "$(echo "$OUT" | json 'd["rows"][0]["action"]')" "add"
expect_exit 0 kwh meter import "$T/meters.csv"
equals "$OUT" "imported $T/meters.csv: 6 added, 0 updated, 0 skipped"
equals "$(kwh meter show M2 --json | json 'd["room"], d["relay_mode"], d["overload_w"]')" "('102, corner', 'protect', 8000)"
equals "$(kwh meter show E1 --json | json 'd["address"]')" "000012345678"
equals "$(kwh meter show M3 --json | json 'd["device"]')" "D1"

# Every kind of bad row, each printed with its line; nothing written.
cat >"$T/bad-meters.csv" <<'EOF'
id,gateway,unit,profile,room
M10,gw9,10,acrel-ddsy1352,110
M11,gw1,11,no-such-profile,111
M12,gw1,12,acrel-ddsy1352,112
M12,gw1,13,acrel-ddsy1352,113
M14,gw1,2,acrel-ddsy1352,114
M15,gw1,4,acrel-ddsy1352,115
M16,gw1,12,acrel-ddsy1352,116
M17,gw1,abc,acrel-ddsy1352,117
M18,gw1,300,acrel-ddsy1352,118
M19,gw1,19
M20,gw1,20,acrel-ddsy1352,"1""20"

M21,,21,acrel-ddsy1352,121
M22,gw1,22,acrel-ddsy1352,122
EOF
before=$(sql 'SELECT count(*) FROM meters')
expect_exit 65 kwh meter import "$T/bad-meters.csv"
f=$T/bad-meters.csv
contains "$ERR" "$f:2: no such gateway: gw9"
contains "$ERR" "$f:3: profile 'no-such-profile'"
contains "$ERR" "$f:5: meter M12 is on line 4 already"
contains "$ERR" "$f:6: unit 2 on gateway gw1 is already meter M2"
contains "$ERR" "$f:7: unit 4 on gateway gw1 is already meter M3 (units 3..5)"
contains "$ERR" "$f:8: unit 12 on gateway gw1 is already meter M12"
contains "$ERR" "$f:9: unit 'abc' is not a whole number"
contains "$ERR" "$f:10: unit 300 is out of range"
contains "$ERR" "$f:11: 3 fields, but the header has 5"
contains "$ERR" "$f:14: a new meter needs its gateway"
not_contains "$ERR" "$f:4:"
not_contains "$ERR" "$f:12:"
not_contains "$ERR" "$f:15:"
equals "$(printf '%s\n' "$ERR" | grep -c "^$f:")" 10
contains "$(printf '%s\n' "$ERR" | tail -1)" "rejected, nothing imported: 10 bad rows"
equals "$(sql 'SELECT count(*) FROM meters')" "$before"
# With --json the errors are in the object too.
expect_exit 65 kwh meter import "$f" --json
equals "$(echo "$OUT" | json 'len(d["errors"]), d["errors"][0]["line"], d["written"]')" "(10, 2, False)"
# --dry-run checks the same and says so.
expect_exit 65 kwh meter import "$f" --dry-run
contains "$ERR" "nothing would be imported: 10 bad rows"

# The header: unknown columns are errors, each named; a spreadsheet is refused.
printf 'id,gateway,colour,unit\nM30,gw1,red,30\n' >"$T/colour.csv"
expect_exit 65 kwh meter import "$T/colour.csv"
contains "$ERR" "$T/colour.csv:1: unknown column 'colour'"
printf 'gateway,unit\ngw1,30\n' >"$T/noid.csv"
expect_exit 65 kwh meter import "$T/noid.csv"
contains "$ERR" "$T/noid.csv:1: no column 'id' (or 'meter')"
printf 'PK\003\004' >"$T/site.xlsx"
expect_exit 65 kwh meter import "$T/site.xlsx"
expect_one_line_error
contains "$ERR" "save the sheet as CSV"
expect_exit 65 kwh meter import - <"$T/site.xlsx"
expect_one_line_error
expect_exit 66 kwh meter import "$T/missing.csv"
expect_one_line_error
# Quoting errors are bad rows too.
printf 'id,gateway,unit,profile\nM40,gw1,40,"acrel-ddsy1352\n' >"$T/open-quote.csv"
expect_exit 65 kwh meter import "$T/open-quote.csv"
contains "$ERR" "$T/open-quote.csv:2: a double quote opened on this line is never closed"

# Rows that differ: errors, or with --update the changes of meter set.
cat >"$T/moved.csv" <<'EOF'
id,room,overload_w,relay_mode
M1,111,,
M2,"102, corner",,protect
EOF
expect_exit 65 kwh meter import "$T/moved.csv"
contains "$ERR" "$T/moved.csv:2: meter M1 is stored otherwise: room 101 -> 111 (import with --update to change it)"
contains "$ERR" "$T/moved.csv:3: meter M2 is stored otherwise: overload_w 8000 -> (none)"
expect_exit 0 kwh meter import "$T/moved.csv" --update --dry-run
contains "$OUT" "room 101 -> 111"
equals "$(kwh meter show M1 --json | json 'd["room"]')" "101"
expect_exit 0 kwh meter import "$T/moved.csv" --update
equals "$OUT" "imported $T/moved.csv: 0 added, 2 updated, 0 skipped"
equals "$(kwh meter show M1 --json | json 'd["room"], d["building"]')" "('111', 'North')"
equals "$(kwh meter show M2 --json | json 'd["overload_w"]')" "None"
# --update keeps meter set's rules: a unit that is taken stays an error.
printf 'id,unit\nM1,2\n' >"$T/clash.csv"
expect_exit 65 kwh meter import "$T/clash.csv" --update
contains "$ERR" "$T/clash.csv:2: unit 2 on gateway gw1 is already meter M2"

# Standard input, and -q: the IDs written.
expect_exit 0 kwh meter import -q - <<'EOF'
meter,gateway,unit,profile
M7,gw1,7,acrel-ddsy1352
M1,gw1,1,acrel-ddsy1352
EOF
equals "$OUT" "M7"

# Accounts --------------------------------------------------------------------------------------
cat >"$T/accounts.csv" <<'EOF'
id,name,tariff,meters,alarm1,alarm2,credit_limit,phone,opening_balance
A1,Tea House,flat,M1;M2,50,20,,+8613800000001,250.50
A2,"Noodles, Ltd",flat,M3,,,100,,-12.00
A3,Optician,flat,M6,30,10,,,
EOF
expect_exit 0 kwh account import "$T/accounts.csv" --receipts "$T/receipts.txt"
equals "$OUT" "imported $T/accounts.csv: 3 added, 0 updated, 0 skipped"
equals "$(kwh account show A1 --json | json 'd["balance"], d["meters"]')" "('250.50', ['M1', 'M2'])"
equals "$(kwh account show A2 --json | json 'd["balance"], d["status"]')" "('-12.00', 'ok')"
# Opening balances: their own kind, never a sale; receipts only when asked, here.
equals "$(sql "SELECT group_concat(kind || ' ' || amount || ' ' || receipt, ', ') FROM ledger")" "opening 25050 1, opening -1200 2"
equals "$(sql "SELECT count(*) FROM ledger WHERE kind = 'sale'")" 0
contains "$(cat "$T/receipts.txt")" "PREPAID ENERGY - OPENING BALANCE"
equals "$(grep -c 'CUSTOMER COPY' "$T/receipts.txt")" 2
expect_exit 0 kwh check
# The sales report counts no takings; reconcile shows the openings on a row of their own.
expect_exit 0 kwh report sales --by account --json
equals "$OUT" "[]"
expect_exit 0 kwh report reconcile --format csv
contains "$OUT" ",,,,238.50,2,opening,,"
contains "$OUT" "(all),(all),0.00,0.00,0.00,0,ledger,,"
# A sale after it chains on.
kwh sell A1 10 --ref imp-1 >/dev/null
expect_exit 0 kwh check

cat >"$T/bad-accounts.csv" <<'EOF'
id,name,tariff,meters,alarm1,credit_limit,opening_balance
A4,Four,flat,M1,,,
A5,Five,flat,M7;M7,,,
A6,Six,nope,,,,
A7,Seven,flat,M99,,,
A8,Eight,flat,,abc,,
A9,Nine,flat,,,-5,
A10,Ten,flat,,,,1.234
A11,,flat,,,,
A1,Tea House,flat,M1;M2,50,,300
EOF
expect_exit 65 kwh account import "$T/bad-accounts.csv"
f=$T/bad-accounts.csv
contains "$ERR" "$f:2: meter M1 already belongs to open account A1"
contains "$ERR" "$f:3: meter M7 is named twice"
contains "$ERR" "$f:4: no such tariff: nope"
contains "$ERR" "$f:5: no such meter: M99"
contains "$ERR" "$f:6: alarm1: "
contains "$ERR" "$f:7: credit_limit: "
contains "$ERR" "$f:8: opening_balance: "
contains "$ERR" "$f:9: a new account needs its name"
contains "$ERR" "$f:10: account A1 has an opening balance of 250.50, not 300.00"
equals "$(printf '%s\n' "$ERR" | grep -c "^$f:")" 9
equals "$(sql 'SELECT count(*) FROM accounts')" 3

# --update: the holder, alarms and meters change (detach, attach); the tariff does not.
cat >"$T/accounts2.csv" <<'EOF'
id,name,meters,alarm1
A3,Optician & Co,M6;M7,40
EOF
expect_exit 65 kwh account import "$T/accounts2.csv"
contains "$ERR" "account A3 is stored otherwise: name Optician -> Optician & Co; alarm1 30.00 -> 40.00; meters M6 -> M6;M7"
expect_exit 0 kwh account import "$T/accounts2.csv" --update
equals "$(kwh account show A3 --json | json 'd["name"], d["alarm1"], d["meters"]')" "('Optician & Co', '40.00', ['M6', 'M7'])"
printf 'id,tariff\nA3,other\n' >"$T/tariff.csv"
expect_exit 65 kwh account import "$T/tariff.csv" --update
contains "$ERR" "does not move to another tariff"

# One audit entry per file, naming it with its SHA-256 and the counts; none for a dry run or a
# rejected file.
audits=$(sql "SELECT count(*) FROM audit WHERE action LIKE '% import'")
equals "$audits" 7
sha=$(sha256sum "$T/accounts.csv" | cut -d' ' -f1)
equals "$(sql "SELECT detail FROM audit WHERE action = 'account import' ORDER BY id LIMIT 1")" \
  "file $T/accounts.csv sha256 $sha: 3 added, 0 updated, 0 skipped"
expect_exit 0 kwh log
contains "$OUT" "sha256 $sha"
expect_exit 0 kwh log --verify

# Round trips: what the lists print imports unchanged ---------------------------------------------
kwh gateway list --format csv >"$T/gl.csv"
kwh meter list --format csv >"$T/ml.csv"
kwh account list --format csv >"$T/al.csv"
expect_exit 0 kwh gateway import "$T/gl.csv"
equals "$OUT" "imported $T/gl.csv: 0 added, 0 updated, 3 skipped"
expect_exit 0 kwh meter import "$T/ml.csv"
equals "$OUT" "imported $T/ml.csv: 0 added, 0 updated, 7 skipped"
expect_exit 0 kwh account import "$T/al.csv"
equals "$OUT" "imported $T/al.csv: 0 added, 0 updated, 3 skipped"
# ... and into a new database, where they make the same site (balances are not carried: they
# are read-only in the list; a sheet's opening_balance carries money).
(
  export KWH_DB=$T/copy.db
  kwh init >/dev/null
  kwh tariff add flat --flat 1.00 >/dev/null
  expect_exit 0 kwh gateway import "$T/gl.csv"
  expect_exit 0 kwh meter import "$T/ml.csv"
  expect_exit 0 kwh account import "$T/al.csv"
  equals "$OUT" "imported $T/al.csv: 3 added, 0 updated, 0 skipped"
  equals "$(kwh gateway list --format csv)" "$(cat "$T/gl.csv")"
  cut_cols() { cut -d, -f1-8,11,15,17; } # not status, relay, account, last reading or totals
  equals "$(kwh meter list --format csv | cut_cols)" "$(cut_cols <"$T/ml.csv")"
  equals "$(kwh account list -q)" "$(printf 'A1\nA2\nA3')"
  equals "$(kwh account show A3 --json | json 'd["meters"]')" '["M6", "M7"]'
)
# A closed account in the list is skipped, never opened again.
kwh account open A9 --name Gone --tariff flat >/dev/null
kwh account close A9 >/dev/null
kwh account list --format csv >"$T/al2.csv"
(
  export KWH_DB=$T/copy2.db
  kwh init >/dev/null
  kwh tariff add flat --flat 1.00 >/dev/null
  kwh gateway import "$T/gl.csv" >/dev/null
  kwh meter import "$T/ml.csv" >/dev/null
  expect_exit 0 kwh account import "$T/al2.csv" --dry-run --format csv
  contains "$OUT" "A9,skip,closed"
)

# The example sheet imports cleanly into a fresh database with the example tariffs ----------------
(
  export KWH_DB=$T/example.db
  kwh init >/dev/null
  for t in flat tiered tou-4band; do kwh tariff add "$t" --file "$ex/tariffs/$t.toml" >/dev/null; done
  expect_exit 0 kwh gateway import "$ex/commissioning/gateways.csv"
  expect_exit 0 kwh meter import "$ex/commissioning/meters.csv"
  expect_exit 0 kwh account import "$ex/commissioning/accounts.csv"
  contains "$OUT" "8 added"
  expect_exit 0 kwh check
)

# Roles: the import needs the role of add/open (admin) ---------------------------------------------
me=$(id -un)
kwh operator add "$me" --role admin >/dev/null
printf 'id,gateway,unit,profile\nM8,gw1,8,acrel-ddsy1352\n' >"$T/one.csv"
expect_exit 0 kwh meter import "$T/one.csv"
# The same operator as a cashier (set by hand: a cashier cannot be made by the last admin itself).
sql "UPDATE operators SET role = 'cashier' WHERE name = '$me'"
printf 'id,gateway,unit,profile\nM9,gw1,9,acrel-ddsy1352\n' >"$T/one.csv"
expect_exit 77 kwh meter import "$T/one.csv"
expect_one_line_error
expect_exit 77 kwh gateway import "$T/gl.csv"
expect_exit 77 kwh account import "$T/al.csv"
echo ok
