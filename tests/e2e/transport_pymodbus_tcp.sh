#!/usr/bin/env bash
# kwh::transport over Modbus TCP against a server we did not write (pymodbus): reads of every
# table, writes of the relay words and a setting reach the server, exceptions come back typed.
source "$(dirname "$0")/lib.sh"
CLIENT="$KWH_BUILD/kwh-modbus-client"
[ -x "$CLIENT" ] || skip "kwh-modbus-client not built"
/usr/bin/python3 -c 'import pymodbus' 2>/dev/null || skip "python3-pymodbus not installed"

P=$(free_port)
/usr/bin/python3 "$KWH_SOURCE/tests/e2e/peers/pymodbus_server.py" --tcp "$P" --log "$T/writes" >"$T/server.out" 2>&1 &
track $!
wait_for 15 /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $P))" || fail "pymodbus did not start"

expect_exit 0 "$CLIENT" --kind tcp --address "127.0.0.1:$P" \
  rh 1 0 3  ri 2 5 2  rc 1 0 4  rd 3 0 3  wm 1 0x57 1,1  wr 3 10 777  wc 2 5 1  rh 1 0x57 2  rh 3 10 1
equals "$OUT" "ok 1000 1001 1002
ok 2005 2006
ok 1 0 1 0
ok 1 0 1
ok
ok
ok
ok 1 1
ok 777"
contains "$(cat "$T/writes")" "holding 87 1 1"
contains "$(cat "$T/writes")" "holding 10 777"
contains "$(cat "$T/writes")" "coil 5 1"

# An address the server does not have: exception 2, exit 1, and the bus goes on.
expect_exit 1 "$CLIENT" --kind tcp --address "127.0.0.1:$P" rh 1 500 2 rh 1 1 1
equals "$OUT" "fail exception 2 (illegal data address)
ok 1001"

# Nobody listening: connection refused, exit 69.
Q=$(free_port)
expect_exit 69 "$CLIENT" --kind tcp --address "127.0.0.1:$Q" rh 1 0 1
contains "$OUT" "fail connection refused"
