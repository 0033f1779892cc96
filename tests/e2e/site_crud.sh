#!/usr/bin/env bash
# kwh gateway and kwh meter: adding, listing, showing, changing and removing, with the exit
# codes of kwh(1) (64 usage, 65 conflict, 66 unknown, 78 bad profile) and one-line errors.
# Nothing here talks to a bus.
source "$(dirname "$0")/lib.sh"

kwh init >/dev/null

# Gateways -----------------------------------------------------------------------------------
expect_exit 0 kwh gateway add G1 --tcp 127.0.0.1:15020
contains "$OUT" "added gateway G1"
expect_exit 0 kwh gateway add R1 --rtu /dev/ttyUSB0 --baud 19200 --parity E --stop-bits 2 --gap-ms 150
expect_exit 0 kwh --json gateway add S1 --rtu-over-tcp 127.0.0.1:4001 --timeout-ms 800
equals "$(echo "$OUT" | json 'd["transport"]')" "rtu-over-tcp"
equals "$(echo "$OUT" | json 'd["timeout_ms"]')" "800"

expect_exit 65 kwh gateway add G1 --tcp 127.0.0.1:15021
expect_one_line_error
contains "$ERR" "G1"
expect_exit 64 kwh gateway add G2                                         # no transport
expect_one_line_error
expect_exit 64 kwh gateway add G2 --tcp 127.0.0.1:1 --rtu /dev/ttyS0       # two transports
expect_exit 64 kwh gateway add G2 --tcp 127.0.0.1                          # no port
expect_one_line_error
expect_exit 64 kwh gateway add G2 --tcp 127.0.0.1:502 --baud 9600         # serial option on tcp
expect_one_line_error
contains "$ERR" "--rtu"
expect_exit 64 kwh gateway add G2 --rtu /dev/ttyS0 --parity X
expect_exit 64 kwh gateway add G2 --rtu /dev/ttyS0 --stop-bits 3
expect_exit 64 kwh gateway add "bad name" --tcp 127.0.0.1:502
equals "$(sqlite3 "$KWH_DB" 'SELECT count(*) FROM gateways')" "3"

expect_exit 0 kwh gateway list
contains "$OUT" "19200 8E2"
expect_exit 0 kwh gateway list -q
equals "$OUT" "G1
R1
S1"
expect_exit 0 kwh gateway show R1 --json
equals "$(echo "$OUT" | json 'd["parity"]')" "E"
equals "$(echo "$OUT" | json 'd["gap_ms"]')" "150"
expect_exit 66 kwh gateway show NOPE
expect_one_line_error
contains "$ERR" "NOPE"

# Meters -------------------------------------------------------------------------------------
cat >"$T/own.toml" <<'EOF'
name = "own-water"
kind = "water"
[values.volume_total]
table = "input"
address = 0
type = "u32"
scale = 1
EOF
expect_exit 0 kwh meter add M1 --gateway G1 --unit 1 --profile acrel-ddsy1352 --building North --room 101 --overload-w 8000
expect_exit 0 kwh meter add M2 --gateway G1 --unit 2 --profile acrel-dtsy1352 --building South --relay-mode protect
expect_exit 0 kwh --json meter add W1 --gateway S1 --unit 1 --profile "$T/own.toml"
equals "$(echo "$OUT" | json 'd["kind"]')" "water"
equals "$(echo "$OUT" | json 'd["profile"]')" "$T/own.toml"
# The profile's text is kept with the meters.
equals "$(sqlite3 "$KWH_DB" "SELECT source FROM profiles WHERE name = 'own-water'")" "$T/own.toml"
contains "$(sqlite3 "$KWH_DB" "SELECT body FROM profiles WHERE name = 'acrel-ddsy1352'")" "energy_total"

expect_exit 65 kwh meter add M1 --gateway G1 --unit 9 --profile acrel-ddsy1352     # ID taken
expect_one_line_error
expect_exit 65 kwh meter add M3 --gateway G1 --unit 2 --profile acrel-ddsy1352     # unit taken
expect_one_line_error
contains "$ERR" "M2"
expect_exit 66 kwh meter add M3 --gateway NOPE --unit 3 --profile acrel-ddsy1352
expect_one_line_error
contains "$ERR" "NOPE"
expect_exit 66 kwh meter add M3 --gateway G1 --unit 3 --profile no-such-profile
expect_one_line_error
contains "$ERR" "no-such-profile"
expect_exit 66 kwh meter add M3 --gateway G1 --unit 3 --profile "$T/missing.toml"
printf 'name = "broken"\nkind = "electricity"\n[values.energy_total]\ntable = "holding"\naddress = 0\ntype = "u33"\n' >"$T/bad.toml"
expect_exit 78 kwh meter add M3 --gateway G1 --unit 3 --profile "$T/bad.toml"
expect_one_line_error
contains "$ERR" "type"
expect_exit 64 kwh meter add M3 --gateway G1 --unit 248 --profile acrel-ddsy1352
expect_exit 64 kwh meter add M3 --gateway G1 --unit 3 --profile acrel-ddsy1352 --relay-mode sometimes
expect_exit 64 kwh meter add M3 --gateway G1 --profile acrel-ddsy1352               # no unit
expect_exit 65 kwh meter add M3 --gateway G1 --unit 3 --profile acrel-ddsy1352 --kind water
equals "$(sqlite3 "$KWH_DB" 'SELECT count(*) FROM meters')" "3"

expect_exit 0 kwh meter list
contains "$OUT" "RELAY_MODE"
expect_exit 0 kwh meter list -q --building North
equals "$OUT" "M1"
expect_exit 0 kwh meter list -q --gateway G1
equals "$OUT" "M1
M2"
expect_exit 0 kwh meter list -q --status unknown
equals "$(echo "$OUT" | wc -l)" "3"
expect_exit 0 kwh meter list -q --status offline
equals "$OUT" ""
expect_exit 64 kwh meter list --status sleepy
expect_exit 66 kwh meter list --gateway NOPE
expect_exit 0 kwh meter list --format csv
contains "$(echo "$OUT" | head -1)" "meter,gateway,unit,address,profile,kind,building,room,status,relay,relay_mode,account,last_reading,energy_kwh"

# Global options stand before or after the subcommand.
expect_exit 0 kwh meter show M1 --json
A="$OUT"
expect_exit 0 kwh --json meter show M1
equals "$OUT" "$A"
equals "$(echo "$A" | json 'd["id"]')" "M1"
equals "$(echo "$A" | json 'd["gateway"]')" "G1"
equals "$(echo "$A" | json 'd["unit"]')" "1"
equals "$(echo "$A" | json 'd["profile"]')" "acrel-ddsy1352"
equals "$(echo "$A" | json 'd["relay"]')" "unknown"
equals "$(echo "$A" | json 'd["relay_mode"]')" "auto"
equals "$(echo "$A" | json 'd["status"]')" "unknown"
equals "$(echo "$A" | json 'd["overload_w"]')" "8000"
equals "$(echo "$A" | json 'd["last_reading"] is None')" "True"
expect_exit 66 kwh meter show M9
expect_one_line_error
contains "$ERR" "M9"
# Never read: no stored reading to print.
expect_exit 1 kwh meter read M1
expect_one_line_error
contains "$ERR" "--direct"

# meter set changes only what it is given.
expect_exit 0 kwh meter set M1 --room 102 --relay-mode off
expect_exit 0 kwh meter show M1 --json
equals "$(echo "$OUT" | json 'd["room"]')" "102"
equals "$(echo "$OUT" | json 'd["building"]')" "North"
equals "$(echo "$OUT" | json 'd["relay_mode"]')" "off"
expect_exit 65 kwh meter set M1 --unit 2                                  # M2's address
expect_one_line_error
expect_exit 0 kwh meter set M1 --gateway R1
expect_exit 64 kwh meter set M1                                           # nothing to change
expect_exit 66 kwh meter set M9 --room 1
expect_exit 66 kwh meter set M1 --gateway NOPE
expect_exit 78 kwh meter set M1 --profile "$T/bad.toml"

# meter replace: unknown meters are 66 and change nothing (tests/e2e/billing_replace.sh has the rest).
expect_exit 66 kwh meter replace M9 M5
expect_one_line_error

# Removing ------------------------------------------------------------------------------------
expect_exit 65 kwh gateway remove G1                                      # M2 is on it
expect_one_line_error
contains "$ERR" "M2"
expect_exit 66 kwh gateway remove NOPE
expect_one_line_error

# A meter that belongs to an open account is not removed.
sqlite3 "$KWH_DB" "INSERT INTO tariffs(name, created) VALUES ('T', 0);
  INSERT INTO accounts(name, holder, tariff_id, opened) VALUES ('SHOP1', 'Shop', 1, 0);
  INSERT INTO assignments(account_id, meter_id, valid_from) SELECT 1, id, 0 FROM meters WHERE name = 'M2';"
expect_exit 0 kwh meter show M2 --json
equals "$(echo "$OUT" | json 'd["account"]')" "SHOP1"
expect_exit 0 kwh meter list --format csv
contains "$OUT" ",SHOP1,"
expect_exit 65 kwh meter remove M2
expect_one_line_error
contains "$ERR" "SHOP1"
# Detached (as account detach does), its history keeps it: marked removed, the ID stays taken.
sqlite3 "$KWH_DB" "UPDATE assignments SET valid_to = 10"
expect_exit 0 kwh meter remove M2
contains "$OUT" "history"
equals "$(sqlite3 "$KWH_DB" "SELECT removed IS NOT NULL FROM meters WHERE name = 'M2'")" "1"
expect_exit 0 kwh meter list -q
not_contains "$OUT" "M2"
expect_exit 65 kwh meter add M2 --gateway G1 --unit 5 --profile acrel-ddsy1352
contains "$ERR" "removed"
expect_exit 65 kwh meter remove M2

# A meter without history goes entirely; then the gateway can go.
expect_exit 0 kwh meter remove W1
equals "$(sqlite3 "$KWH_DB" "SELECT count(*) FROM meters WHERE name = 'W1'")" "0"
expect_exit 0 kwh gateway remove S1
expect_exit 66 kwh gateway show S1
# G1 keeps the removed M2's history.
expect_exit 65 kwh gateway remove G1
contains "$ERR" "M2"
expect_exit 66 kwh meter remove NOPE
expect_one_line_error

echo ok
