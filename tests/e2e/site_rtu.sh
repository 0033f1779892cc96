#!/usr/bin/env bash
# meter read --direct and relay --direct over the two RTU transports: RTU framed on a raw TCP
# socket (kwh sim --rtu-over-tcp, as a transparent serial server carries it), and RTU on a
# serial port (a socat pty bridged to the same simulator), plus pymodbus's RTU framer, a server
# we did not write.
source "$(dirname "$0")/lib.sh"

kwh init >/dev/null

P=$(free_port)
kwh sim --meters 2 --listen "127.0.0.1:$P" --speed 600 --rtu-over-tcp >"$T/sim.out" 2>&1 &
track $!
wait_for 10 grep -q "kwh sim:" "$T/sim.out" || fail "kwh sim did not start: $(cat "$T/sim.out")"

energy() { kwh meter read "$1" --direct --json | json 'd["energy_total"]'; }

# Switches M's relay off and on, checking that energy stops and grows again.
relay_cycle() {
  local m=$1 a b
  expect_exit 0 kwh relay off "$m" --direct
  equals "$(kwh meter show "$m" --json | json 'd["relay"]')" "off"
  a=$(energy "$m"); sleep 1; b=$(energy "$m")
  equals "$b" "$a"
  expect_exit 0 kwh relay on "$m" --direct
  equals "$(kwh meter show "$m" --json | json 'd["relay"]')" "on"
  a=$(energy "$m"); sleep 0.5; b=$(energy "$m")
  [ "$b" -gt "$a" ] || fail "$m: energy did not grow after relay on: $a then $b"
}

# RTU over TCP.
kwh gateway add RT --rtu-over-tcp "127.0.0.1:$P" --timeout-ms 1000 --gap-ms 5 >/dev/null
kwh meter add R1 --gateway RT --unit 1 --profile acrel-ddsy1352 >/dev/null
expect_exit 0 kwh meter read R1 --direct --json
equals "$(echo "$OUT" | json 'd["energy_total"] > 0 and 200 < d["voltage_a"] < 260')" "True"
relay_cycle R1
expect_exit 0 kwh gateway test RT

# A Modbus TCP client on an RTU port gets no valid reply: a clear failure, not a value.
kwh gateway add WRONG --tcp "127.0.0.1:$P" --timeout-ms 300 >/dev/null
kwh meter add X1 --gateway WRONG --unit 2 --profile acrel-ddsy1352 >/dev/null
rc=0; kwh meter read X1 --direct >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 69 ] || [ "$rc" = 1 ] || fail "framing mismatch: exit $rc: $(cat "$T/err")"
equals "$(sqlite3 "$KWH_DB" "SELECT count(*) FROM meter_values v JOIN meters m ON m.id = v.meter_id WHERE m.name = 'X1'")" "0"

# RTU on a serial port: a pty that socat bridges to the simulator's RTU socket.
if command -v socat >/dev/null; then
  socat "pty,raw,echo=0,link=$T/tty" "tcp:127.0.0.1:$P" 2>"$T/socat.log" &
  track $!
  wait_for 10 test -e "$T/tty" || fail "socat made no pty"
  kwh gateway add SER --rtu "$T/tty" --baud 19200 --parity E --timeout-ms 1000 --gap-ms 5 >/dev/null
  kwh meter add S2 --gateway SER --unit 2 --profile acrel-ddsy1352 >/dev/null
  expect_exit 0 kwh meter read S2 --direct --json
  equals "$(echo "$OUT" | json 'd["energy_total"] > 0')" "True"
  relay_cycle S2
else
  echo "socat not installed: serial part skipped" >&2
fi

# pymodbus's RTU framer over TCP (holding register i holds 1000 + i).
if /usr/bin/python3 -c 'import pymodbus' 2>/dev/null; then
  cat >"$T/peer.toml" <<'EOF'
name = "peer-em"
kind = "electricity"
[values.energy_total]
table = "holding"
address = 0
type = "u32"
scale = 10
[values.voltage_a]
table = "input"
address = 5
type = "u16"
scale = 0.1
[relay]
table = "holding"
address = 0x57
on = [1, 0]
off = [1, 1]
EOF
  Q=$(free_port)
  /usr/bin/python3 "$KWH_SOURCE/tests/e2e/peers/pymodbus_server.py" --tcp "$Q" --rtu-framing --log "$T/writes" >"$T/py.out" 2>&1 &
  track $!
  wait_for 15 /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $Q))" || fail "pymodbus did not start"
  kwh gateway add PY --rtu-over-tcp "127.0.0.1:$Q" --timeout-ms 1000 --gap-ms 10 >/dev/null
  kwh meter add PY1 --gateway PY --unit 1 --profile "$T/peer.toml" >/dev/null
  expect_exit 0 kwh meter read PY1 --direct --json
  # (1000 << 16 | 1001) × 10 Wh; input register 5 holds 2005: 200.5 V.
  equals "$(echo "$OUT" | json 'd["energy_total"]')" "655370010"
  equals "$(echo "$OUT" | json 'd["voltage_a"]')" "200.5"
  expect_exit 0 kwh relay off PY1 --direct
  contains "$(cat "$T/writes")" "holding 87 1 1"
  expect_exit 0 kwh relay on PY1 --direct
  contains "$(cat "$T/writes")" "holding 87 1 0"
fi

echo ok
