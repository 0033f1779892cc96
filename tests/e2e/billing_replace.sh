# kwh meter replace: a meter swapped after renovation. The old meter's readings are billed, the
# new meter takes its bus address and account, its first reading is only a baseline, and the
# balance stays with the account.
. "$KWH_SOURCE/tests/e2e/lib.sh"

command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"
q() { sqlite3 "$KWH_DB" "$1"; }
printf 'timezone = "UTC"\n' >"$T/kwh.toml"
export KWH_CONFIG="$T/kwh.toml"

kwh init >/dev/null
kwh gateway add g1 --tcp 127.0.0.1:1502 >/dev/null
kwh meter add M1 --gateway g1 --unit 7 --profile acrel-ddsy1352 --building B1 --room 101 >/dev/null
kwh tariff add flat --flat 1.0000 >/dev/null
kwh account open A1 --name "Shop 1" --tariff flat --meter M1 --opened 2026-01-01T00:00:00Z >/dev/null
kwh sell A1 100 --ref r1 >/dev/null

cat >"$T/old.csv" <<'CSV'
meter,time,energy_total
M1,2026-01-01T00:30:00Z,1000000
M1,2026-01-01T01:00:00Z,1012345
CSV
kwh reading import "$T/old.csv" >/dev/null
equals "$(kwh --json account show A1 | json 'd["balance"]')" "87.66"

# Replace by a meter not yet known: it is created at M1's address.
expect_exit 0 kwh meter replace M1 M2 --time 2026-01-01T01:10:00Z --json
equals "$(echo "$OUT" | json 'd["created"]')" "True"
equals "$(q "SELECT gateway_id || ':' || unit || ':' || building || ':' || room FROM meters WHERE name = 'M2' AND removed IS NULL")" "1:7:B1:101"
[ -n "$(q "SELECT removed FROM meters WHERE name = 'M1'")" ] || fail "M1 is still in service"
equals "$(q "SELECT count(*) FROM events WHERE kind = 'meter_replaced'")" "1"
equals "$(kwh --json account show A1 | json 'd["balance"]')" "87.66"
contains "$(kwh --json account show A1 | json 'd["meters"]')" "M2"

# The new meter's first reading is its baseline; the next one is charged.
cat >"$T/new.csv" <<'CSV'
meter,time,energy_total
M2,2026-01-01T01:30:00Z,50
M2,2026-01-01T02:00:00Z,2055
CSV
kwh reading import "$T/new.csv" >/dev/null
equals "$(kwh --json account show A1 | json 'd["balance"]')" "85.65"

# Errors: unknown old meter 66, replacing with a meter already in an open account 65.
expect_exit 66 kwh meter replace M9 M3
expect_one_line_error
kwh meter add M4 --gateway g1 --unit 8 --profile acrel-ddsy1352 >/dev/null
kwh account open A2 --name "Shop 2" --tariff flat --meter M4 >/dev/null
expect_exit 65 kwh meter replace M2 M4
expect_one_line_error
equals "$(q "SELECT count(*) FROM meters WHERE removed IS NULL")" "2"

expect_exit 0 kwh check
echo ok
