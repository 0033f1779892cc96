#!/usr/bin/env bash
# The relay state the meter reports ([relay.status] of the Acrel profiles) is read with every
# poll: kwh learns it on the first poll without an event; a relay that opens at the meter
# without a command (kwh sim's trip fault: the meter's own overload trip) is a relay_unexpected
# event and meters.relay_state follows it; one closed at the meter (the button fault) while the
# account is in arrears is opened again at once; and a command is done only when the meter
# reports the new state.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
kwh init >/dev/null
# 20 kW at 3600× speed: 20 kWh a second, so that 5.00 runs out within a few polls.
# The switches at the meters come late enough that a slow (sanitizer) build has made the site
# and read the meters before them.
start_sim 2 1 --speed 3600 --load-w 20000 --faults trip=1@15s,button=2@22s
add_site 1 2
write_config '[billing]' 'max_power_w = 100000000'
kwh tariff add flat --flat 1.0000 >/dev/null
kwh account open A1 --name "Shop 1" --tariff flat --meter M1_1 >/dev/null
kwh account open A2 --name "Shop 2" --tariff flat --meter M1_2 >/dev/null
kwh sell A1 100000 >/dev/null
kwh sell A2 5 >/dev/null
start_kwhd
diag() { sql "SELECT * FROM events; SELECT * FROM commands; SELECT name, relay_state, relay_reason FROM meters" >&2; cat "$T/kwhd.err" >&2; }

# The first report: relay_state learnt, no event.
wait_for 10 is "SELECT relay_state FROM meters WHERE name = 'M1_1'" on || { diag; fail "the first report was not taken"; }
expect_exit 0 kwh meter show M1_1 --json
equals "$(echo "$OUT" | json 'd["relay_reported"]')" "on"
[ "$(echo "$OUT" | json 'd["relay_reported_at"]')" != "None" ] || fail "no time for the report: $OUT"
equals "$(echo "$OUT" | json 'd["last_reading"]["relay_status"]')" "0"

# A2 runs out: its relay is opened by a command that is done when the meter reports it open.
wait_for 15 is "SELECT state FROM commands WHERE action = 'relay_off' AND reason = 'arrears'" done || { diag; fail "A2's relay was not opened"; }
equals "$(sql "SELECT readback FROM commands WHERE action = 'relay_off' AND reason = 'arrears'")" off
equals "$(sql "SELECT relay_state FROM meters WHERE name = 'M1_2'")" off

# M1_1 trips at the meter 15 s after the simulator started: an event, and kwh's record follows.
wait_for 30 is "SELECT relay_state FROM meters WHERE name = 'M1_1'" off || { diag; fail "the trip at the meter was not seen"; }
equals "$(sql "SELECT relay_reason FROM meters WHERE name = 'M1_1'")" meter
detail=$(sql "SELECT detail FROM events WHERE kind = 'relay_unexpected' AND meter_id = (SELECT id FROM meters WHERE name = 'M1_1')")
equals "$detail" "meter M1_1: the relay opened at the meter without a command (kwh had it on)"
equals "$(sql "SELECT count(*) FROM commands WHERE meter_id = (SELECT id FROM meters WHERE name = 'M1_1')")" 0
expect_exit 0 kwh meter show M1_1 --json
equals "$(echo "$OUT" | json 'd["relay_reported"]')" "off"
equals "$(echo "$OUT" | json 'd["relay"]')" "off"

# M1_2's button closes it at 22 s while A2 is in arrears: kwh opens it again.
wait_for 30 at_least 1 "SELECT count(*) FROM events WHERE kind = 'relay_unexpected' AND detail LIKE 'meter M1_2:%'" ||
  { diag; fail "the button at the meter was not seen"; }
equals "$(sql "SELECT detail FROM events WHERE kind = 'relay_unexpected' AND detail LIKE 'meter M1_2:%'")" \
  "meter M1_2: the relay closed at the meter without a command (kwh had it off for arrears); opening it again"
wait_for 10 is "SELECT count(*) FROM commands WHERE action = 'relay_off' AND reason = 'arrears' AND state = 'done'" 2 ||
  { diag; fail "the relay was not opened again"; }
wait_for 5 is "SELECT relay_state FROM meters WHERE name = 'M1_2'" off || { diag; fail "M1_2 is not off"; }

# An operator closes M1_1 again: done when the meter reports it on.
expect_exit 0 kwh relay on M1_1 --wait 5
equals "$(sql "SELECT state || ' ' || readback FROM commands WHERE action = 'relay_on'")" "done on"
sleep 1.5
equals "$(sql "SELECT relay_state FROM meters WHERE name = 'M1_1'")" on
# Exactly the two changes at the meters were events; kwh's own switches were not.
equals "$(sql "SELECT count(*) FROM events WHERE kind = 'relay_unexpected'")" 2
contains "$(cat "$T/kwhd.err")" "the relay opened at the meter without a command"
kill -TERM "$KWHD_PID"; wait "$KWHD_PID" || fail "kwhd did not exit 0"
