#!/usr/bin/env bash
# Gateways with history: one whose meters have readings cannot be removed (the error says to
# retire it); `kwh gateway retire` refuses while a meter feeds an open account, then takes the
# gateway and its meters out of service, hides it from gateway list unless --all, keeps every
# reading for reports and statements (the same totals before and after), and kwhd polls it no more.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
kwh init >/dev/null
kwh gateway add old --tcp 127.0.0.1:1 >/dev/null
kwh gateway add new --tcp 127.0.0.1:2 >/dev/null
kwh meter add M1 --gateway old --unit 1 --profile acrel-ddsy1352 --building B >/dev/null
kwh tariff add flat --flat 1.0000 >/dev/null
kwh account open A1 --name "Shop 1" --tariff flat --meter M1 --opened 2026-10-01 >/dev/null
kwh sell A1 100 >/dev/null
printf 'meter,time,energy_total\nM1,2026-10-01T00:00:00Z,1000000\nM1,2026-10-02T00:00:00Z,1012340\n' >"$T/r.csv"
expect_exit 0 kwh reading import "$T/r.csv"
energy() { kwh --json report energy --from 2026-10-01 --to 2026-10-31 | json 'sum(float(r["energy_kwh"]) for r in d)'; }
before=$(energy)
equals "$before" 12.34

expect_exit 65 kwh gateway remove old
expect_one_line_error
expect_exit 65 kwh gateway retire old
expect_one_line_error
contains "$ERR" "gateway old still feeds open account: M1 (account A1); detach or move those meters first"
expect_exit 0 kwh account detach A1 M1
expect_exit 65 kwh gateway remove old
expect_one_line_error
contains "$ERR" "or retire it with them (kwh gateway retire old)"

expect_exit 0 kwh gateway retire old --json
[ "$(json 'd["retired"]' <<<"$OUT")" != None ] || fail "no retired time: $OUT"
expect_exit 65 kwh gateway retire old
expect_one_line_error
contains "$ERR" "was retired on"
# Out of the lists, not out of the database.
expect_exit 0 kwh --format csv gateway list
not_contains "$OUT" "old,"
expect_exit 0 kwh --format csv gateway list --all
contains "$OUT" "old,"
expect_exit 0 kwh gateway show old --json
[ "$(json 'd["retired"]' <<<"$OUT")" != None ] || fail "gateway show has no retired time"
equals "$(sql "SELECT removed IS NOT NULL FROM meters WHERE name = 'M1'")" 1
# Nothing new goes on it.
expect_exit 65 kwh meter add M2 --gateway old --unit 2 --profile acrel-ddsy1352
expect_one_line_error
contains "$ERR" "gateway old is retired"
# Its history reports as before.
equals "$(energy)" "$before"
expect_exit 0 kwh report statement --account A1 --from 2026-10-01 --to 2026-10-31
expect_exit 0 kwh check
# kwhd does not poll it: one pass over the site polls nothing.
write_config
expect_exit 0 kwhd --config "$T/kwh.toml" --once
not_contains "$(cat "$T/.err")" "gateway old"
echo ok
