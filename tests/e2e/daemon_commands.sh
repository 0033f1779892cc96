#!/usr/bin/env bash
# kwhd carries out a queued relay command within a second: `kwh relay off M --wait 5` returns 0
# with the relay open on the meter; a command inserted straight into the table is done soon
# after; a command for a meter whose profile has no relay fails at once with command_failed.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
kwh init >/dev/null
start_sim 2 1
add_site 1 2
write_config
start_kwhd
wait_for 10 at_least 1 "SELECT count(*) FROM readings" || { cat "$T/kwhd.err" >&2; fail "kwhd never read"; }

expect_exit 0 kwh relay off M1_1 --wait 5
equals "$(sql "SELECT state || ' ' || readback || ' ' || attempts FROM commands WHERE action = 'relay_off'")" "done off 1"
equals "$(sql "SELECT relay_state FROM meters WHERE name = 'M1_1'")" off
equals "$(sql "SELECT count(*) FROM events WHERE kind = 'relay_changed'")" 1
# The meter itself says open: read it directly over the gateway.
expect_exit 0 kwh meter read M1_1 --direct --json

# Queued behind kwh's back, with sqlite3: done within a second or so of being queued.
id=$(sql "INSERT INTO commands(meter_id, action, reason, created, not_before)
          SELECT id, 'relay_on', 'operator', strftime('%s','now'), strftime('%s','now') FROM meters WHERE name = 'M1_2'
          RETURNING id")
start=$(date +%s%N)
wait_for 5 is "SELECT state FROM commands WHERE id = $id" done || { sql "SELECT * FROM commands" >&2; cat "$T/kwhd.err" >&2; fail "command $id not done"; }
ms=$((($(date +%s%N) - start) / 1000000))
# Within a second normally; the margin is for loaded CI machines and sanitizer builds.
[ $ms -lt 2500 ] || fail "command took $ms ms"
equals "$(sql "SELECT relay_state FROM meters WHERE name = 'M1_2'")" on

# A setting kwhd cannot carry out fails without retries and writes command_failed.
id=$(sql "INSERT INTO commands(meter_id, action, argument, created, not_before)
          SELECT id, 'set', 'no_such_setting=1', 0, 0 FROM meters WHERE name = 'M1_2' RETURNING id")
wait_for 5 is "SELECT state FROM commands WHERE id = $id" failed || fail "bad command not failed"
equals "$(sql "SELECT count(*) FROM events WHERE kind = 'command_failed'")" 1
contains "$(cat "$T/kwhd.err")" "command $id set for meter M1_2 failed"
