#!/usr/bin/env bash
# Time sync: `kwh meter sync-time` queues a sync_time command; kwhd reads the meter's clock,
# sets it and reads it back. A Modbus meter whose profile has a [clock] (kwh sim serves it,
# --clock-drift sets how far off it starts); DL/T 645 meters by broadcast time, which a meter
# takes only within 5 minutes of its own clock. The drift read back is in `meter show`, a clock
# further off than max_drift is a clock_drift event, meters without a clock are refused by name
# and skipped in --all, and [poll] sync_time queues the daily sync once a day.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
kwh init >/dev/null

# A site profile: the Acrel map with a BCD clock at 0100H.
sed 's/^name = .*/name = "site-clocked"/' "$KWH_SOURCE/examples/profiles/acrel-ddsy1352.toml" >"$T/clocked.toml"
printf '\n[clock]\ntable = "holding"\naddress = 0x0100\nformat = "bcd"\n' >>"$T/clocked.toml"

start_sim 2 1 --profile "$T/clocked.toml" --clock-drift -90
MB_PORT=$SIM_PORT
start_sim 2 1 --protocol dlt645 --clock-drift 120
DL_NEAR=$SIM_PORT
start_sim 1 1 --protocol dlt645 --clock-drift 600
DL_FAR=$SIM_PORT

kwh gateway add mb --tcp "127.0.0.1:$MB_PORT" --timeout-ms 500 >/dev/null
kwh meter add C1 --gateway mb --unit 1 --profile "$T/clocked.toml" >/dev/null
kwh meter add P2 --gateway mb --unit 2 --profile acrel-ddsy1352 >/dev/null # no clock
kwh gateway add near --dlt645-tcp "127.0.0.1:$DL_NEAR" --timeout-ms 500 >/dev/null
kwh meter add D1 --gateway near --address 000000000001 --profile acrel-dtsy1352-dlt645 >/dev/null
kwh meter add D2 --gateway near --address 000000000002 --profile acrel-dtsy1352-dlt645 >/dev/null
kwh gateway add far --dlt645-tcp "127.0.0.1:$DL_FAR" --timeout-ms 500 >/dev/null
kwh meter add D3 --gateway far --address 000000000001 --profile acrel-dtsy1352-dlt645 >/dev/null
write_config
start_kwhd
diag() { sql "SELECT * FROM commands; SELECT * FROM events; SELECT name, clock_drift, clock_checked_at FROM meters" >&2; cat "$T/kwhd.err" >&2; }

# Refused before anything is queued: a meter named that has no clock, and no meters at all.
expect_exit 65 kwh meter sync-time C1 P2
expect_one_line_error
contains "$ERR" "meter P2: its profile acrel-ddsy1352 names no clock ([clock]) to set"
equals "$(sql "SELECT count(*) FROM commands")" 0
expect_exit 64 kwh meter sync-time
expect_one_line_error
expect_exit 64 kwh meter sync-time C1 --all
expect_one_line_error
expect_exit 66 kwh meter sync-time NOPE
expect_one_line_error

# The Modbus meter: 90 s behind, set, read back right; 90 s > max_drift 60 s: an event.
expect_exit 0 kwh meter sync-time C1 --wait 30 --json
equals "$(json 'd[0]["state"]' <<<"$OUT")" done
readback=$(json 'd[0]["readback"]' <<<"$OUT")
[[ "$readback" =~ ^clock\ -(89|90|91)\ s,\ set,\ now\ [-+][012]\ s$ ]] || { diag; fail "readback: $readback"; }
expect_exit 0 kwh meter show C1 --json
drift=$(json 'd["clock_drift_s"]' <<<"$OUT")
[ "${drift#-}" -le 2 ] || fail "C1's clock is $drift s off after the sync"
[ "$(json 'd["clock_checked_at"]' <<<"$OUT")" != None ] || fail "no clock_checked_at: $OUT"
detail=$(sql "SELECT detail FROM events WHERE kind = 'clock_drift' AND meter_id = (SELECT id FROM meters WHERE name = 'C1')")
[[ "$detail" =~ ^the\ meter\'s\ clock\ was\ (89|90|91)\ s\ behind\;\ set$ ]] || { diag; fail "event: $detail"; }
# A second sync finds it right: no new event.
expect_exit 0 kwh meter sync-time C1 --wait 30
equals "$(sql "SELECT count(*) FROM events WHERE kind = 'clock_drift'")" 1
# P2 has no clock and shows none.
expect_exit 0 kwh meter show P2 --json
equals "$(json 'd["clock_drift_s"]' <<<"$OUT")" None

# DL/T 645 by broadcast: 120 s ahead is within the 5 minutes a meter takes.
expect_exit 0 kwh meter sync-time D1 --wait 30 --json
readback=$(json 'd[0]["readback"]' <<<"$OUT")
[[ "$readback" =~ ^clock\ \+(119|120|121)\ s,\ set,\ now\ [-+][012]\ s$ ]] || { diag; fail "readback: $readback"; }
# The broadcast reached D2 on the same bus too.
expect_exit 0 kwh meter sync-time D2 --wait 30 --json
[[ "$(json 'd[0]["readback"]' <<<"$OUT")" =~ ^clock\ [-+][012]\ s ]] || { diag; fail "D2 was not set by the broadcast: $OUT"; }
# 600 s off: the meter ignores the broadcast; the command fails at once, saying why.
expect_exit 69 kwh meter sync-time D3 --wait 30
expect_one_line_error
contains "$ERR" "sync-time failed for 1 of 1 meter: D3"
contains "$ERR" "s off after broadcast time"
equals "$(sql "SELECT state || ' ' || attempts FROM commands WHERE meter_id = (SELECT id FROM meters WHERE name = 'D3')")" "failed 1"
[[ "$(sql "SELECT detail FROM events WHERE kind = 'clock_drift' AND meter_id = (SELECT id FROM meters WHERE name = 'D3')")" =~ ^the\ meter\'s\ clock\ was\ (599|600|601)\ s\ ahead\;\ not\ set: ]] ||
  { diag; fail "no clock_drift event for D3"; }
expect_exit 0 kwh meter show D3 --json
drift=$(json 'd["clock_drift_s"]' <<<"$OUT")
[ "$drift" -ge 598 ] || fail "D3's drift should still show: $drift"

# --all: the meters with a clock; P2 skipped with a note.
expect_exit 0 kwh meter sync-time --all
contains "$ERR" "1 of 5 meters skipped: their profiles name no clock"
equals "$(echo "$OUT" | grep -c sync_time)" 4

# The daily sync: at [poll] sync_time (a minute ago), once a day, across restarts.
kill -TERM "$KWHD_PID"; wait "$KWHD_PID" || fail "kwhd did not exit 0"
at=$(/usr/bin/python3 -c 'import time; t=time.localtime(time.time()-60); m=max(0, t.tm_hour*60+t.tm_min) if time.localtime().tm_mday==t.tm_mday else 0; print("%02d:%02d" % divmod(m, 60))')
write_config "sync_time = \"$at\""
# write_config puts extra lines after [poll]'s keys: sync_time belongs to [poll].
grep -q "^sync_time = \"$at\"" "$T/kwh.toml" || fail "config: $(cat "$T/kwh.toml")"
before=$(sql "SELECT count(*) FROM commands WHERE reason = 'schedule'")
equals "$before" 0
start_kwhd
wait_for 20 is "SELECT count(*) FROM commands WHERE reason = 'schedule' AND state IN ('done', 'failed')" 4 || { diag; fail "the daily sync did not run"; }
equals "$(sql "SELECT value FROM settings WHERE key = 'clocks_synced'")" "$(date +%F)"
grep -q "time sync: queued for 4 meters" "$T/kwhd.err" || { diag; fail "no log line for the daily sync"; }
kill -TERM "$KWHD_PID"; wait "$KWHD_PID" || fail "kwhd did not exit 0"
start_kwhd
sleep 7 # past the first upkeep check (5 s after the start)
equals "$(sql "SELECT count(*) FROM commands WHERE reason = 'schedule'")" 4
kill -TERM "$KWHD_PID"; wait "$KWHD_PID" || fail "kwhd did not exit 0"
