#!/usr/bin/env bash
# Bad input everywhere, against one small site with money on it: money strings, ids, CSV
# imports, tariff, profile and configuration files, and command-line combinations. Each case is
# rejected with the exit code of kwh(1) (64 usage, 65 bad data, 66 no such thing, 78 bad
# configuration, 1 failed otherwise), one line on stderr that starts with "kwh: ", and nothing
# written: the whole database (every table, the ledger and the audit log too) is byte for byte
# the same dump afterwards, and no file was left behind.
source "$KWH_SOURCE/tests/e2e/lib.sh"
command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"

kwh init >/dev/null
kwh gateway add g --tcp 127.0.0.1:1 >/dev/null
kwh meter add M1 --gateway g --unit 1 --profile acrel-ddsy1352 >/dev/null
kwh meter add M2 --gateway g --unit 2 --profile acrel-ddsy1352 --building B1 >/dev/null
kwh meter add M9 --gateway g --unit 9 --profile acrel-ddsy1352 >/dev/null
kwh tariff add flat --flat 1.0000 >/dev/null
kwh account open A1 --name "Shop 1" --tariff flat --meter M1 >/dev/null
kwh account open A2 --name "Shop 2" --tariff flat >/dev/null
kwh account close A2 >/dev/null
kwh sell A1 10.00 --ref R1 >/dev/null
printf 'meter,time,energy_total\nM1,2026-01-01T00:00:00Z,1000\n' >"$T/good.csv"
printf 'meter,time,energy_total\nM9,2026-01-01T00:00:00Z,500\n' >"$T/m9.csv"
kwh reading import "$T/good.csv" >/dev/null
kwh reading import "$T/m9.csv" >/dev/null
kwh meter remove M9 >/dev/null
# A removed meter's readings are still listed: its history.
equals "$(kwh reading list M9 --json | json 'd[0]["value"]')" 500

# The files the cases read.
F="$T/in"
mkdir "$F"
csv() { printf 'meter,time,energy_total\n%b' "$2" >"$F/$1.csv"; }
csv newer-then-bad 'M1,2026-01-02T00:00:00Z,2000\nM1,2026-01-03T00:00:00Z,abc\n'
csv older 'M1,2025-12-31T00:00:00Z,900\n'
csv changed 'M1,2026-01-01T00:00:00Z,1001\n'
csv bad-time 'M1,2026-02-30T00:00:00Z,2000\n'
csv unknown-meter 'NOPE,2026-01-02T00:00:00Z,2000\n'
csv negative 'M1,2026-01-02T00:00:00Z,-5\n'
csv short-line 'M1,2026-01-02T00:00:00Z\n'
csv binary 'M1,2026-01-02\x00T00:00:00Z,2000\n'
printf 'time,meter,energy_total\nM1,2026-01-02T00:00:00Z,2000\n' >"$F/bad-header.csv"
: >"$F/empty.csv"
printf 'unit = "kWh"\nprice = "1.00001"\n' >"$F/price5.toml"
printf 'unit = "kWh"\nprice = "1.0000"\ncolour = "blue"\n' >"$F/unknown-key.toml"
printf 'unit = "kWh\nprice = 1\n' >"$F/syntax.toml"
printf 'unit = "gallons"\nprice = "1.0000"\n' >"$F/unit.toml"
printf 'effective = "someday"\nunit = "kWh"\nprice = "1.0000"\n' >"$F/effective.toml"
printf '[bands]\nsuperpeak = "1.0000"\n' >"$F/band.toml"
profile() { printf 'name = "p"\nkind = "electricity"\n[values.energy_total]\n%b' "$2" >"$F/$1.toml"; }
profile profile-address 'table = "holding"\naddress = 70000\ntype = "u32"\n'
profile profile-type 'table = "holding"\naddress = 0\ntype = "u128"\n'
profile profile-table 'table = "drawer"\naddress = 0\ntype = "u32"\n'
profile profile-scale 'table = "holding"\naddress = 0\ntype = "u32"\nscale = "ten"\n'
profile profile-syntax 'table = "holding"\naddress = 0\ntype = "u32\n'
printf '[poll]\ninterval = "often"\n' >"$F/config-interval.toml"
printf '[poll]\ncolour = "blue"\n' >"$F/config-key.toml"
printf '[poll]\nretries = "two"\n' >"$F/config-type.toml"
printf '[poll\n' >"$F/config-syntax.toml"
printf 'currency = "CNY"\nminor_units = 9\n' >"$F/config-minor.toml"

dump() { sqlite3 "$KWH_DB" .dump | sha256sum; }
before=$(dump)
# The files there (the database's -wal and -shm come and go with its connections).
files() { ls "$T" "$F" | grep -v '^kwh\.db-' | sha256sum; }
files_before=$(files)
cases=0

# rejects CODE ARGS...: kwh ARGS... exits CODE with one "kwh: " line on stderr, and wrote nothing.
rejects() {
  local want=$1
  shift
  expect_exit "$want" kwh "$@"
  expect_one_line_error
  case "$ERR" in "kwh: "*) ;; *) fail "kwh $*: the error does not start with 'kwh: ': $ERR" ;; esac
  [ "$(dump)" = "$before" ] || fail "kwh $* failed ($want) but changed the database"
  [ "$(files)" = "$files_before" ] || fail "kwh $* failed ($want) but left a file: $(ls "$T" "$F")"
  cases=$((cases + 1))
}

# Money strings.
for amount in abc -5 1.234 0 0.00 99999999999999999999 1e3 '' ' 1' '1 ' 1,00 0x10 +1 1. .5 '１' 10..0 \
  '1.0.0' 18446744073709551616 9223372036854775807; do
  rejects 65 sell A1 "$amount"
done
rejects 65 refund A1 10.01
rejects 65 refund A1 abc
rejects 65 sell A1 2 --ref R1
rejects 65 refund A1 10.00 --ref R1
rejects 65 sell A1 1 --ref ''
rejects 65 account open A3 --name X --tariff flat --alarm1 abc
rejects 65 account open A3 --name X --tariff flat --credit-limit -1
rejects 65 tariff add t2 --flat abc
rejects 65 tariff add t2 --flat 1.00001
rejects 65 tariff add t2 --flat -1
rejects 64 sell A1 1 --method bitcoin
rejects 1 sell A1 1 --receipt "$T/no/such/folder/receipt.txt"
rejects 65 sell A1 1 --receipt "$F"
contains "$ERR" "it is a folder"
rejects 65 report sales --format csv --output "$F"
contains "$ERR" "it is a folder"
rejects 66 sell NOPE 1 --receipt "$T/receipt.txt"
rejects 65 sell A1 1.001 --receipt "$T/receipt.txt"

# Ids: no such account, meter, gateway, tariff, operator or held reading; closed and taken ones.
rejects 66 sell NOPE 1
rejects 65 sell A2 1
rejects 66 account show NOPE
rejects 66 account attach A1 NOPE
rejects 66 account attach NOPE M2
rejects 65 account attach A2 M2
rejects 65 account attach A1 M9
contains "$ERR" "meter M9 was removed"
rejects 65 account open A1 --name X --tariff flat
rejects 66 account open A3 --name X --tariff NOPE
rejects 66 account open A3 --name X --tariff flat --meter NOPE
rejects 65 account open A3 --name X --tariff flat --meter M1
rejects 64 account open '' --name X --tariff flat
rejects 66 meter show NOPE
rejects 66 meter remove NOPE
rejects 66 meter add M3 --gateway NOPE --unit 3 --profile acrel-ddsy1352
rejects 65 meter add M1 --gateway g --unit 3 --profile acrel-ddsy1352
rejects 65 meter add M3 --gateway g --unit 1 --profile acrel-ddsy1352
rejects 64 meter add M3 --gateway g --unit 0 --profile acrel-ddsy1352
rejects 64 meter add M3 --gateway g --unit 248 --profile acrel-ddsy1352
rejects 64 meter add M3 --gateway g --unit abc --profile acrel-ddsy1352
rejects 64 meter add '' --gateway g --unit 3 --profile acrel-ddsy1352
rejects 66 meter add M3 --gateway g --unit 3 --profile no-such-profile
rejects 64 meter add M3 --gateway g --unit 3 --profile acrel-ddsy1352 --overload-w -3
rejects 66 gateway show NOPE
rejects 65 gateway add g --tcp 127.0.0.1:2
rejects 65 gateway remove g
rejects 66 tariff show NOPE
rejects 66 relay off NOPE
rejects 66 relay off M1 NOPE
rejects 66 relay off --account NOPE
rejects 66 relay off --building NOPE
rejects 66 reading list NOPE
rejects 66 reading accept 999
rejects 66 operator remove NOPE
rejects 66 report statement --account NOPE

# CSV imports: any bad line rejects the whole file (the good line before it is not written).
for f in newer-then-bad older changed bad-time unknown-meter negative short-line binary bad-header empty; do
  rejects 65 reading import "$F/$f.csv"
done
rejects 66 reading import "$F/missing.csv"

# Tariff files (65) and profiles (78, as kwh-profile(5) says).
for f in price5 unknown-key syntax unit effective band; do
  rejects 65 tariff add t2 --file "$F/$f.toml"
done
rejects 66 tariff add t2 --file "$F/missing.toml"
# Each names the file, the line and the key that is wrong.
for f in profile-address:energy_total.address profile-type:energy_total.type profile-table:energy_total.table \
  profile-scale:energy_total.scale profile-syntax:profile-syntax.toml:6; do
  rejects 78 meter add M3 --gateway g --unit 3 --profile "$F/${f%%:*}.toml"
  contains "$ERR" "${f#*:}"
done

# The configuration: 78 naming the file, line and key (kwhd --check-config agrees).
for f in config-interval:2:\ poll.interval config-key:2:\ unknown\ key\ \'poll.colour config-type:2:\ poll.retries \
  config-syntax:1: config-minor:2:\ minor_units; do
  rejects 78 --config "$F/${f%%:*}.toml" sell A1 1
  contains "$ERR" "${f%%:*}.toml:${f#*:}"
  expect_exit 78 kwhd --check-config --config "$F/${f%%:*}.toml"
done
rejects 78 --config "$F/missing.toml" sell A1 1

# Command-line combinations.
rejects 64 sell
rejects 64 sell A1
rejects 64 sell A1 1 2
rejects 64 relay off
rejects 64 relay off --all
rejects 64 relay off M1 --account A1
rejects 64 relay off M1 --wait abc
contains "$ERR" "--wait: 'abc' is not a number"
rejects 64 relay off M1 --wait -1
contains "$ERR" "--wait: -1 is outside 0 to 86400"
rejects 64 meter add M3 --gateway g --unit 1.5 --profile acrel-ddsy1352
contains "$ERR" "--unit: '1.5' is not a valid number"
rejects 64 reading accept first
rejects 64 relay sideways M1
rejects 64 gateway add g2
rejects 64 gateway add g2 --tcp 127.0.0.1:2 --rtu /dev/ttyS0
rejects 64 gateway add g2 --tcp nohostport
rejects 64 gateway add g2 --tcp 127.0.0.1:65536
rejects 64 gateway add g2 --rtu /dev/ttyS0 --parity X
rejects 64 gateway add g2 --tcp 127.0.0.1:2 --timeout-ms 0
rejects 64 tariff add t2
rejects 64 tariff add t2 --flat 1 --file "$F/price5.toml"
rejects 64 account list --status bogus
rejects 64 meter list --status bogus
rejects 64 meter add M3 --gateway g --unit 3 --profile acrel-ddsy1352 --kind gas
rejects 64 report bogus
rejects 64 report sales --by meter
rejects 64 report energy --by galaxy
rejects 64 report sales --from 2026-02-01 --to 2026-01-01
rejects 65 report sales --from 2026-13-01
rejects 64 report statement
rejects 1 report sales --format xlsx --output "$T/no/such/folder/sales.xlsx"
rejects 64 operator add x --role god
rejects 65 log --since garbage
rejects 64 --format yaml account list
rejects 64 init --bogus
rejects 64 frobnicate

echo "$cases bad inputs rejected, nothing written"
