#!/usr/bin/env bash
# A multi-user meter (an ADF400L): six single-phase circuits of one device on one bus, each a
# meter of its own with --device. Proves: each circuit bills to its own account at its own
# tariff, to the cent, from its own readings; when the device falls silent kwhd writes ONE
# device_offline event (no meter_offline per circuit) and every circuit goes offline; when it
# answers again the event is ended with one device_online. A three-phase circuit takes three
# unit addresses: a meter on the next two is refused (65, one line), and the simulator serves
# three-phase circuits on units 1, 4, 7, ...
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
kwh init >/dev/null

# 2 kW per circuit (varied by the simulator) at 3600× speed: about 2 kWh per second each.
start_sim 6 1 --profile acrel-adf400l-1p --speed 3600 --load-w 2000
SIM1=$SIM_PID
SIM1_OUT=$SIM_OUT
kwh gateway add bus1 --tcp "127.0.0.1:$SIM_PORT" --timeout-ms 300 >/dev/null
for u in 1 2 3 4 5 6; do
  expect_exit 0 kwh meter add "C$u" --gateway bus1 --unit "$u" --profile acrel-adf400l-1p --device D1 --building A --room "10$u"
done
contains "$OUT" "a circuit of device D1"
expect_exit 0 kwh meter show C3 --json
equals "$(echo "$OUT" | json 'd["device"]')" "D1"
expect_exit 0 kwh meter list --format csv
equals "$(head -1 <<<"$OUT" | tr ',' '\n' | sed -n 15p)" "device"   # appended, the others unchanged
equals "$(grep -c ',D1,[^,]*,[^,]*$' <<<"$OUT")" 6                  # then volume_m3, overload_w
# --device and --no-device on meter set.
expect_exit 0 kwh meter set C6 --no-device
equals "$(sql "SELECT device IS NULL FROM meters WHERE name = 'C6'")" 1
expect_exit 0 kwh meter set C6 --device D1
equals "$(sql "SELECT count(*) FROM meters WHERE device = 'D1'")" 6
expect_exit 64 kwh meter set C6 --device "two words"
expect_one_line_error

# Two tenants on two circuits of the same device, at different prices.
kwh tariff add cheap --flat 1.0000 >/dev/null
kwh tariff add dear --flat 2.5000 >/dev/null
kwh account open A1 --name "Shop 1" --tariff cheap --meter C1 >/dev/null
kwh account open A2 --name "Shop 2" --tariff dear --meter C2 >/dev/null
kwh sell A1 1000 >/dev/null
kwh sell A2 1000 >/dev/null

write_config '[billing]' 'max_power_w = 100000000'
start_kwhd
wait_for 30 is "SELECT count(*) FROM meters WHERE device = 'D1' AND status = 'online'" 6 ||
  { cat "$T/kwhd.err" >&2; fail "the circuits never came online"; }
wait_for 30 at_least 3 "SELECT count(*) FROM readings WHERE meter_id = (SELECT id FROM meters WHERE name = 'C2')" ||
  { cat "$T/kwhd.err" >&2; fail "no readings of C2"; }

# The device falls silent (SIGUSR1: no circuit answers, the connection stays up).
mark=$(sql "SELECT coalesce(max(id), 0) FROM events")
kill -USR1 "$SIM1"
wait_for 30 is "SELECT count(*) FROM meters WHERE device = 'D1' AND status = 'offline'" 6 ||
  { cat "$T/kwhd.err" >&2; fail "the circuits did not all go offline"; }
wait_for 10 is "SELECT count(*) FROM events WHERE kind = 'device_offline'" 1 || fail "no device_offline event"
equals "$(sql "SELECT gateway_id = (SELECT id FROM gateways WHERE name = 'bus1'), meter_id IS NULL, detail, ended IS NULL
               FROM events WHERE kind = 'device_offline'")" "1|1|device D1: 6 circuits offline|1"
equals "$(sql "SELECT count(*) FROM events WHERE kind = 'meter_offline'")" 0
contains "$(cat "$T/kwhd.err")" "not tried: device D1 did not answer"
# Still one event, however long it stays away.
sleep 2.5
equals "$(sql "SELECT count(*) FROM events WHERE kind = 'device_offline'")" 1
equals "$(sql "SELECT count(*) FROM events WHERE kind = 'meter_offline'")" 0
expect_exit 0 kwh meter list --status offline -q
equals "$(wc -l <<<"$OUT")" 6

# It answers again: the event ends, one device_online, every circuit online, no meter_online each.
kill -USR1 "$SIM1"
wait_for 30 is "SELECT count(*) FROM meters WHERE device = 'D1' AND status = 'online'" 6 ||
  { cat "$T/kwhd.err" >&2; fail "the circuits did not come back"; }
wait_for 10 is "SELECT count(*) FROM events WHERE kind = 'device_online' AND id > $mark" 1 || fail "no device_online event"
equals "$(sql "SELECT ended IS NOT NULL FROM events WHERE kind = 'device_offline'")" 1
equals "$(sql "SELECT count(*) FROM events WHERE kind = 'meter_online' AND id > $mark")" 0
before=$(sql "SELECT max(t) FROM readings WHERE meter_id = (SELECT id FROM meters WHERE name = 'C1')")
wait_for 30 at_least 1 "SELECT count(*) FROM readings WHERE t > $before AND meter_id = (SELECT id FROM meters WHERE name = 'C1')" ||
  fail "no readings after the device came back"
kill -TERM "$KWHD_PID"
wait "$KWHD_PID" || fail "kwhd did not exit 0"

# Each account paid for its own circuit's energy only, to the cent: the first reading after the
# account opened is the baseline; charges are rounded down with the remainder carried.
equals "$(sql "SELECT count(*) FROM events WHERE kind IN ('implausible', 'counter_reset')")" 0
charged() { # METER PRICE_IN_TEN_THOUSANDTHS: what its energy costs, in minor units, rounded down
  local wh
  wh=$(sql "SELECT max(value) - min(value) FROM readings WHERE meter_id = (SELECT id FROM meters WHERE name = '$1')")
  [ "$wh" -gt 1000 ] || fail "meter $1 used only $wh Wh"
  echo $((wh * $2 / 100000))
}
c1=$(charged C1 10000)
c2=$(charged C2 25000)
equals "$(sql "SELECT balance FROM accounts WHERE name = 'A1'")" "$((100000 - c1))"
equals "$(sql "SELECT balance FROM accounts WHERE name = 'A2'")" "$((100000 - c2))"
[ "$c1" != "$c2" ] || fail "both accounts were charged $c1"
expect_exit 0 kwh check

# Three-phase circuits take three units: the simulator serves them on units 1, 4, 7, ...
start_sim 3 1 --profile acrel-adf400l-3p
contains "$(head -1 "$SIM_OUT")" "units 1, 4, 7, ..."
kwh gateway add bus2 --tcp "127.0.0.1:$SIM_PORT" --timeout-ms 300 >/dev/null
expect_exit 0 kwh meter add T1 --gateway bus2 --unit 4 --profile acrel-adf400l-3p --device D2
expect_exit 0 kwh meter read T1 --direct --json
equals "$(echo "$OUT" | json 'd["energy_total"] >= 0 and 200 < d["voltage_c"] < 260')" "True"
expect_exit 65 kwh meter add X5 --gateway bus2 --unit 5 --profile acrel-adf400l-1p --device D2
expect_one_line_error
contains "$ERR" "unit 5 on gateway bus2 is already meter T1 (units 4..6)"
expect_exit 65 kwh meter add X6 --gateway bus2 --unit 6 --profile acrel-adf400l-1p
expect_one_line_error
expect_exit 65 kwh meter add T0 --gateway bus2 --unit 2 --profile acrel-adf400l-3p   # 2..4 reaches T1
expect_one_line_error
contains "$ERR" "units 2..4 on gateway bus2 overlap meter T1"
expect_exit 0 kwh meter add X3 --gateway bus2 --unit 3 --profile acrel-adf400l-1p
expect_exit 65 kwh meter set X3 --profile acrel-adf400l-3p                              # would take 3..5
expect_one_line_error
expect_exit 0 kwh meter add T7 --gateway bus2 --unit 7 --profile acrel-adf400l-3p
expect_exit 65 kwh meter add T245 --gateway bus2 --unit 246 --profile acrel-adf400l-3p  # 246..248
expect_one_line_error
# A meter moved onto a unit inside T1's range is refused too.
expect_exit 0 kwh meter add Y --gateway bus1 --unit 7 --profile acrel-adf400l-1p
expect_exit 65 kwh meter set Y --gateway bus2 --unit 5
expect_one_line_error
stop_sim "$SIM_PID" "$SIM_OUT"
stop_sim "$SIM1" "$SIM1_OUT"
contains "$SIM_SUMMARY" "requests"
