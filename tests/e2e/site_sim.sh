#!/usr/bin/env bash
# Reading meters live and switching their relays with --direct, against kwh sim over Modbus TCP:
# canonical values, the stored latest reading, energy that stops growing while the relay is
# open, relay state, events and command rows; an unreachable gateway is exit 69 naming it.
source "$(dirname "$0")/lib.sh"

kwh init >/dev/null

# At speed 600 a 2 kW load adds about 330 Wh a second: well above the profile's 10 Wh step.
P=$(free_port)
kwh sim --meters 3 --listen "127.0.0.1:$P" --speed 600 >"$T/sim.out" 2>&1 &
track $!
wait_for 10 grep -q "kwh sim:" "$T/sim.out" || fail "kwh sim did not start: $(cat "$T/sim.out")"

kwh gateway add SIM --tcp "127.0.0.1:$P" --timeout-ms 1000 >/dev/null
kwh meter add E1 --gateway SIM --unit 1 --profile acrel-ddsy1352 >/dev/null
kwh meter add E2 --gateway SIM --unit 2 --profile acrel-ddsy1352 >/dev/null
kwh meter add E3 --gateway SIM --unit 3 --profile eastron-sdm630 >/dev/null   # a profile with no relay

energy() { kwh meter read "$1" --direct --json | json 'd["energy_total"]'; }

expect_exit 0 kwh gateway test SIM
contains "$OUT" "E1"
not_contains "$OUT" "offline"

# A live read prints every value in canonical units and is stored as the latest reading.
expect_exit 0 kwh meter read E1 --direct --json
R="$OUT"
equals "$(echo "$R" | json 'd["meter"]')" "E1"
equals "$(echo "$R" | json 'isinstance(d["energy_total"], int) and d["energy_total"] > 0')" "True"
equals "$(echo "$R" | json '200 < d["voltage_a"] < 260')" "True"
equals "$(echo "$R" | json 'd["power_total"] > 1000')" "True"
contains "$(echo "$R" | json 'd["time"]')" "T"
expect_exit 0 kwh meter show E1 --json
equals "$(echo "$OUT" | json 'd["last_reading"]["energy_total"]')" "$(echo "$R" | json 'd["energy_total"]')"
equals "$(echo "$OUT" | json 'd["last_reading"]["time"]')" "$(echo "$R" | json 'd["time"]')"
expect_exit 0 kwh meter read E1 --json                                  # the stored one, no bus
equals "$(echo "$OUT" | json 'd["energy_total"]')" "$(echo "$R" | json 'd["energy_total"]')"
expect_exit 0 kwh meter read E1 --direct
contains "$OUT" " Wh"
contains "$OUT" " V"
expect_exit 0 kwh meter list --format csv
contains "$OUT" "E1,SIM,1,,acrel-ddsy1352"

# Energy grows while the relay is closed...
a=$(energy E1); sleep 0.5; b=$(energy E1)
[ "$b" -gt "$a" ] || fail "energy did not grow with the relay closed: $a then $b"

# ...and stops while it is open.
expect_exit 0 kwh relay off E1 --direct
contains "$OUT" "off"
expect_exit 0 kwh meter show E1 --json
equals "$(echo "$OUT" | json 'd["relay"]')" "off"
equals "$(echo "$OUT" | json 'd["relay_mode"]')" "auto"             # a switch does not change the mode
a=$(energy E1); sleep 1; b=$(energy E1)
equals "$b" "$a"
e2a=$(energy E2); sleep 0.5; e2b=$(energy E2)
[ "$e2b" -gt "$e2a" ] || fail "E2 stopped too: $e2a then $e2b"
equals "$(sqlite3 "$KWH_DB" "SELECT count(*) FROM events e JOIN meters m ON m.id = e.meter_id WHERE m.name = 'E1' AND e.kind = 'relay_changed'")" "1"
# The read-back is the relay state the meter reports ([relay.status]: 0058H, 1 = off).
equals "$(sqlite3 "$KWH_DB" "SELECT action || ' ' || state || ' ' || reason || ' ' || readback FROM commands")" \
  "relay_off done operator 0x0001"
expect_exit 0 kwh meter read E1 --json
equals "$(echo "$OUT" | json 'd["relay_status"]')" "1"

expect_exit 0 kwh relay on E1 --direct --json
equals "$(echo "$OUT" | json 'd[0]["relay"]')" "on"
equals "$(echo "$OUT" | json 'd[0]["readback"]')" "on"
a=$(energy E1); sleep 0.5; b=$(energy E1)
[ "$b" -gt "$a" ] || fail "energy did not grow again after relay on: $a then $b"

# Several meters at once; a meter whose profile has no relay is refused before anything is written.
expect_exit 65 kwh relay off E1 E3 --direct
expect_one_line_error
contains "$ERR" "E3"
expect_exit 0 kwh meter show E1 --json
equals "$(echo "$OUT" | json 'd["relay"]')" "on"
expect_exit 0 kwh relay off E1 E2 --direct -q
equals "$OUT" "E1
E2"
equals "$(sqlite3 "$KWH_DB" "SELECT group_concat(relay_state, ',') FROM (SELECT relay_state FROM meters WHERE name IN ('E1', 'E2') ORDER BY name)")" "off,off"
expect_exit 0 kwh relay on E1 E2 --direct

# A gateway nobody listens on: 69, naming the gateway and the unit; nothing stored.
DEAD=$(free_port)
kwh gateway add DEAD --tcp "127.0.0.1:$DEAD" --timeout-ms 300 >/dev/null
kwh meter add D1 --gateway DEAD --unit 7 --profile acrel-ddsy1352 >/dev/null
expect_exit 69 kwh meter read D1 --direct
expect_one_line_error
contains "$ERR" "DEAD"
contains "$ERR" "unit 7"
equals "$(sqlite3 "$KWH_DB" "SELECT count(*) FROM meter_values v JOIN meters m ON m.id = v.meter_id WHERE m.name = 'D1'")" "0"
expect_exit 69 kwh gateway test DEAD
expect_one_line_error
contains "$ERR" "DEAD"
# Switching: each meter's result is reported; the failure names the meter; the command row says failed.
expect_exit 69 kwh relay off E1 D1 --direct
expect_one_line_error
contains "$ERR" "D1"
not_contains "$ERR" "E1 ("
contains "$OUT" "E1"
equals "$(sqlite3 "$KWH_DB" "SELECT relay_state FROM meters WHERE name = 'E1'")" "off"
equals "$(sqlite3 "$KWH_DB" "SELECT relay_state FROM meters WHERE name = 'D1'")" "unknown"
equals "$(sqlite3 "$KWH_DB" "SELECT c.state FROM commands c JOIN meters m ON m.id = c.meter_id WHERE m.name = 'D1'")" "failed"

# A unit the simulator does not serve does not answer.
kwh meter add E9 --gateway SIM --unit 9 --profile acrel-ddsy1352 >/dev/null
expect_exit 69 kwh meter read E9 --direct
contains "$ERR" "unit 9"

echo ok
