#!/usr/bin/env bash
# RTU framing (unit, PDU, CRC-16) on a raw TCP socket, as a transparent serial server carries
# it, against pymodbus's RTU framer on a TCP server: reads, relay writes, exceptions.
source "$(dirname "$0")/lib.sh"
CLIENT="$KWH_BUILD/kwh-modbus-client"
[ -x "$CLIENT" ] || skip "kwh-modbus-client not built"
/usr/bin/python3 -c 'import pymodbus' 2>/dev/null || skip "python3-pymodbus not installed"

P=$(free_port)
/usr/bin/python3 "$KWH_SOURCE/tests/e2e/peers/pymodbus_server.py" --tcp "$P" --rtu-framing --log "$T/writes" >"$T/server.out" 2>&1 &
track $!
wait_for 15 /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $P))" || fail "pymodbus did not start"

expect_exit 0 "$CLIENT" --kind rtu-over-tcp --address "127.0.0.1:$P" --gap-ms 20 \
  rh 1 0 3  ri 2 5 2  rc 1 0 4  wm 2 0x57 1,0  rh 2 0x57 2  wr 1 20 4242  rh 1 20 1
equals "$OUT" "ok 1000 1001 1002
ok 2005 2006
ok 1 0 1 0
ok
ok 1 0
ok
ok 4242"
contains "$(cat "$T/writes")" "holding 87 1 0"
contains "$(cat "$T/writes")" "holding 20 4242"

expect_exit 1 "$CLIENT" --kind rtu-over-tcp --address "127.0.0.1:$P" rh 1 500 2 rh 1 2 1
equals "$OUT" "fail exception 2 (illegal data address)
ok 1002"
