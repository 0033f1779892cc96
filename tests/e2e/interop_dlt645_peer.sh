#!/usr/bin/env bash
# kwhd against DL/T 645-2007 meters we did not write: tests/e2e/peers/dlt645_peer.py, written
# from the standard independently of lib/kwh/dlt645/, behind a transparent serial server (raw
# TCP). Checked: every value of the built-in acrel-dtsy1352-dlt645
# profile read exactly (bands summing to the total, the relay state from status word 3); relay
# control 1C carried out and read back (the peer's state says open, then closed); a relay that
# changes at the meter without a command is a relay_unexpected event; a wrong password is the
# meter's refusal, in words, and the relay stays as it was.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
PEER="$KWH_SOURCE/tests/e2e/peers/dlt645_peer.py"

kwh init >/dev/null
/usr/bin/python3 "$PEER" --listen 127.0.0.1:0 --meters 123456789012,000000000002 --password 02123456 \
  --state-file "$T/peer.json" >"$T/peer.out" 2>"$T/peer.err" &
PEER_PID=$!
track $PEER_PID
wait_for 10 grep -q 'dlt645 peer:' "$T/peer.out" || { cat "$T/peer.err" >&2; fail "the peer did not start"; }
PORT=$(grep -o '127.0.0.1:[0-9]*' "$T/peer.out" | cut -d: -f2)
peer_relay() { /usr/bin/python3 -c "import json; print(json.load(open('$T/peer.json'))['$1']['relay'])"; }

kwh gateway add d1 --dlt645-tcp "127.0.0.1:$PORT" --password 02123456 --timeout-ms 500 >/dev/null
kwh gateway add bad --dlt645-tcp "127.0.0.1:$PORT" --password 02999999 --timeout-ms 500 >/dev/null
kwh meter add D1 --gateway d1 --address 123456789012 --profile acrel-dtsy1352-dlt645 >/dev/null
kwh meter add D2 --gateway bad --address 000000000002 --profile acrel-dtsy1352-dlt645 >/dev/null
# A Modbus profile on a DL/T 645 gateway, or a unit instead of an address, is refused.
expect_exit 64 kwh meter add X --gateway d1 --address 000000000003 --profile acrel-dtsy1352
expect_one_line_error
expect_exit 64 kwh meter add X --gateway d1 --unit 3 --profile acrel-dtsy1352-dlt645
expect_one_line_error
write_config
start_kwhd
diag() { sql "SELECT * FROM events; SELECT * FROM commands" >&2; cat "$T/kwhd.err" >&2; }
wait_for 10 at_least 2 "SELECT count(*) FROM readings WHERE meter_id = (SELECT id FROM meters WHERE name = 'D1')" ||
  { diag; fail "kwhd read nothing from the DL/T 645 meter"; }

expect_exit 0 kwh meter show D1 --json
r=$(json 'd["last_reading"]' <<<"$OUT")
equals "$(json 'd["last_reading"]["energy_total"] == sum(d["last_reading"]["energy_" + b] for b in ("sharp","peak","flat","valley"))' <<<"$OUT")" True
equals "$(json 'd["last_reading"]["energy_total"] % 10' <<<"$OUT")" 0        # 0.01 kWh steps, exact Wh
equals "$(json '229 < d["last_reading"]["voltage_a"] < 232' <<<"$OUT")" True
equals "$(json 'd["last_reading"]["frequency"]' <<<"$OUT")" 50
equals "$(json 'd["relay_reported"]' <<<"$OUT")" on
equals "$(json 'd["address"]' <<<"$OUT")" 123456789012
equals "$(json 'd["status"]' <<<"$OUT")" online

# The CLI reads the meter directly too; relays go through kwhd (the gateway's password).
expect_exit 0 kwh meter read D1 --direct --json
equals "$(json 'd["energy_total"] == sum(d["energy_" + b] for b in ("sharp","peak","flat","valley"))' <<<"$OUT")" True
equals "$(json 'd["relay_status"]' <<<"$OUT")" 0
expect_exit 64 kwh relay off D1 --direct
expect_one_line_error
contains "$ERR" "DL/T 645 relays are switched by kwhd"

# Relay control 1C: off, then on; each done once status word 3 agrees, and the peer says so.
expect_exit 0 kwh relay off D1 --wait 5
equals "$(sql "SELECT state || ' ' || readback FROM commands WHERE action = 'relay_off'")" "done off"
equals "$(peer_relay 123456789012)" off
expect_exit 0 kwh relay on D1 --wait 5
equals "$(peer_relay 123456789012)" on
equals "$(sql "SELECT relay_state FROM meters WHERE name = 'D1'")" on
peer_protect() { /usr/bin/python3 -c "import json; print(json.load(open('$T/peer.json'))['$1']['protect'])"; }
# Relay mode protect is told to the meter (3A), which then refuses a trip from anyone; auto
# lifts it (3B).
expect_exit 0 kwh relay protect D1 --json
cmd=$(json 'd[0]["command"]' <<<"$OUT")
wait_for 10 is "SELECT state FROM commands WHERE id = $cmd" done || { diag; fail "protect on was not carried out"; }
equals "$(sql "SELECT argument || ' ' || readback FROM commands WHERE id = $cmd")" "protect=on protect=on"
equals "$(peer_protect 123456789012)" True
expect_exit 0 kwh relay auto D1 --json
cmd=$(json 'd[0]["command"]' <<<"$OUT")
wait_for 10 is "SELECT state FROM commands WHERE id = $cmd" done || { diag; fail "protect off was not carried out"; }
equals "$(peer_protect 123456789012)" False
# auto to auto tells the meter nothing.
expect_exit 0 kwh relay auto D1 --json
equals "$(json 'd[0]["command"]' <<<"$OUT")" None

# The tenant's button (SIGUSR1 toggles the first meter's relay): an event, and kwh's record follows.
kill -USR1 $PEER_PID
wait_for 10 is "SELECT relay_state FROM meters WHERE name = 'D1'" off || { diag; fail "the change at the meter was not seen"; }
equals "$(sql "SELECT detail FROM events WHERE kind = 'relay_unexpected'")" \
  "meter D1: the relay opened at the meter without a command (kwh had it on)"

# A wrong password: the meter's refusal in words; kwh tries again later, and the relay stays on.
id=$(sql "INSERT INTO commands(meter_id, action, reason, created, not_before)
          SELECT id, 'relay_off', 'operator', strftime('%s','now'), strftime('%s','now') FROM meters WHERE name = 'D2'
          RETURNING id")
wait_for 10 is "SELECT last_error IS NOT NULL FROM commands WHERE id = $id" 1 || { diag; fail "the refused command was not tried"; }
contains "$(sql "SELECT last_error FROM commands WHERE id = $id")" "wrong password or not authorised"
equals "$(peer_relay 000000000002)" on
kill -TERM "$KWHD_PID"; wait "$KWHD_PID" || fail "kwhd did not exit 0"
