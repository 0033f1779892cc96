# A whole prepaid cycle against the simulator with kwhd --once: sell → consume → alarm 1 →
# alarm 2 → arrears → relay opens → top-up → relay closes, balances checked to the cent against
# the meter's own counter. Plus a dead meter that costs nothing, and a counter reset (the
# simulator restarts with its counters back at their first values) that charges nothing.
. "$KWH_SOURCE/tests/e2e/lib.sh"
. "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3

kwh init >/dev/null
# About 100 Wh per second of clock per meter: 1000 W ±20 % at 360× speed.
start_sim 2 1 --speed 360 --load-w 1000
add_site 1 2
kwh meter add DEAD --gateway g1 --unit 9 --profile acrel-ddsy1352 >/dev/null # no such unit answers
write_config '[billing]' 'max_power_w = 100000000'
export KWH_CONFIG="$T/kwh.toml"
kwh tariff add flat --flat 1.0000 >/dev/null
kwh account open A1 --name "Shop 1" --tariff flat --meter M1_1 --alarm1 0.70 --alarm2 0.40 >/dev/null
kwh account open A2 --name "Shop 2" --tariff flat --meter DEAD >/dev/null
kwh account open A3 --name "Shop 3" --tariff flat --meter M1_2 >/dev/null
kwh sell A1 1.00 >/dev/null
kwh sell A2 5 >/dev/null
kwh sell A3 100 >/dev/null

once() { expect_exit 0 kwhd --once; sleep 1.05; }
status() { kwh --json account show "$1" | json 'd["status"]'; }
cents() { kwh --json account show "$1" | json 'int(round(float(d["balance"]) * 100))'; }
# What the meter's counter says was used since its first reading, charged at 1.0000 per kWh:
# with the rounding carry, exactly floor(Wh / 10) cents over any span.
used_cents() {
  sql "SELECT (max(value) - min(value)) / 10 FROM readings WHERE meter_id = (SELECT id FROM meters WHERE name = '$1')"
}

# Consume until arrears; the statuses pass through alarm1 and alarm2 on the way.
seen=""
for i in $(seq 1 40); do
  once
  s=$(status A1)
  case " $seen " in *" $s "*) ;; *) seen="$seen $s" ;; esac
  [ "$s" = arrears ] && break
done
equals "$seen" " ok alarm1 alarm2 arrears"
for k in alarm1 alarm2 arrears; do
  equals "$(sql "SELECT count(*) FROM events WHERE kind = '$k' AND account_id = (SELECT id FROM accounts WHERE name = 'A1')")" 1
done
equals "$(cents A1)" "$((100 - $(used_cents M1_1)))"

# The same run carried out the relay_off that arrears queued: the meter's relay is open.
equals "$(sql "SELECT state || ' ' || reason FROM commands WHERE action = 'relay_off'")" "done arrears"
equals "$(sql "SELECT relay_state FROM meters WHERE name = 'M1_1'")" off
# With the relay open the meter stops: after the reading that covers the moments before the
# switch, nothing more is charged.
once
before=$(cents A1)
once
once
equals "$(cents A1)" "$before"
equals "$(cents A1)" "$((100 - $(used_cents M1_1)))"

# A top-up lifts the balance above reconnect_above: relay_on is queued and carried out.
kwh sell A1 5 >/dev/null
equals "$(sql "SELECT state || ' ' || reason FROM commands WHERE action = 'relay_on'")" "pending topup"
once
equals "$(sql "SELECT state FROM commands WHERE action = 'relay_on'")" done
equals "$(sql "SELECT relay_state FROM meters WHERE name = 'M1_1'")" on
once
equals "$(status A1)" ok
equals "$(cents A1)" "$((600 - $(used_cents M1_1)))"

# The dead meter cost nothing, and is offline with an event.
equals "$(cents A2)" 500
equals "$(sql "SELECT count(*) FROM readings WHERE meter_id = (SELECT id FROM meters WHERE name = 'DEAD')")" 0
equals "$(sql "SELECT status FROM meters WHERE name = 'DEAD'")" offline
equals "$(sql "SELECT count(*) FROM events WHERE kind = 'meter_offline' AND meter_id = (SELECT id FROM meters WHERE name = 'DEAD')")" 1

# Counter reset: the simulator restarts on the same port with its counters back at their first
# values. The lower reading is an event and a new baseline, never a (negative) charge.
a3_before=$(cents A3)
used_before=$(used_cents M1_2)
kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null || true
SIM_LISTEN_PORT=$SIM_PORT start_sim 2 1 --speed 360 --load-w 1000
once
equals "$(sql "SELECT count(*) FROM events WHERE kind = 'counter_reset' AND meter_id = (SELECT id FROM meters WHERE name = 'M1_2')")" 1
equals "$(cents A3)" "$a3_before"
[ "$a3_before" = "$((10000 - used_before))" ] || fail "A3 was charged $((10000 - a3_before)) cents for $used_before"
once
[ "$(cents A3)" -lt "$a3_before" ] || fail "consumption after the reset was not charged"

expect_exit 0 kwh check
echo ok
