#!/usr/bin/env bash
# kwhd --once stores AND bills: an account on a flat tariff is charged for what its meter used
# between two runs, and when the money runs out billing queues relay_off, which the same --once
# carries out before it exits.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
kwh init >/dev/null
# 20 kW per meter (power_total is an i16 of W) at 3600× speed: 20 kWh per second.
start_sim 1 1 --speed 3600 --load-w 20000
add_site 1 1
write_config '[billing]' 'max_power_w = 100000000'
kwh tariff add flat --flat 1.0000 >/dev/null
kwh account open A1 --name "Shop 1" --tariff flat --meter M1_1 >/dev/null
kwh sell A1 5 >/dev/null

expect_exit 0 kwhd --config "$T/kwh.toml" --once
sleep 1.2
expect_exit 0 kwhd --config "$T/kwh.toml" --once
[ "$(sql "SELECT count(*) FROM charges")" -ge 1 ] || { echo "$ERR" >&2; sql "SELECT * FROM readings; SELECT * FROM events; SELECT * FROM assignments" >&2; fail "no charge written"; }
# More than 5.00 was used: the account is in arrears, and its relay was opened in the same run.
balance=$(sql "SELECT balance FROM accounts WHERE name = 'A1'")
[ "$balance" -lt 0 ] || fail "balance $balance should be below zero"
equals "$(sql "SELECT status FROM accounts WHERE name = 'A1'")" arrears
equals "$(sql "SELECT state FROM commands WHERE action = 'relay_off'")" done
equals "$(sql "SELECT relay_state FROM meters WHERE name = 'M1_1'")" off
# daily_usage holds what was charged.
equals "$(sql "SELECT sum(cost) FROM daily_usage") " "$(sql "SELECT -sum(amount) FROM charges") "
# Today's charge is open in an accumulator, part of the balance; kwh check replays it from the
# readings, and finds it when it is edited behind kwh's back, with or without its hash.
equals "$(sql "SELECT count(*) FROM accumulators")" 1
expect_exit 0 kwh check
cp "$KWH_DB" "$T/good.db"
sql "UPDATE accumulators SET quantity = quantity + 10"
expect_exit 1 kwh check
contains "$OUT" "does not match its hash"
contains "$OUT" "but its readings give"
cp "$T/good.db" "$KWH_DB"; rm -f "$KWH_DB-wal" "$KWH_DB-shm"
sql "UPDATE accounts SET balance = balance + 100 WHERE name = 'A1'"
expect_exit 1 kwh check
contains "$OUT" "less its open accumulators"
