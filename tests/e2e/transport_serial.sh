#!/usr/bin/env bash
# Modbus RTU on a serial port: a socat pty pair stands in for the RS-485 line, pymodbus serves
# one end (19200 baud, 8N2) and kwh::transport opens the other as a serial port. (pyserial
# cannot set parity on a pty; parity E is covered by sim_serial.sh, through socat to kwh sim.)
source "$(dirname "$0")/lib.sh"
CLIENT="$KWH_BUILD/kwh-modbus-client"
[ -x "$CLIENT" ] || skip "kwh-modbus-client not built"
command -v socat >/dev/null || skip "socat not installed"
/usr/bin/python3 -c 'import pymodbus, serial_asyncio' 2>/dev/null || skip "pymodbus or pyserial-asyncio missing"

socat -d -d "pty,raw,echo=0,link=$T/a" "pty,raw,echo=0,link=$T/b" 2>"$T/socat.log" &
track $!
wait_for 10 test -e "$T/a" -a -e "$T/b" || fail "socat made no pty pair"
/usr/bin/python3 "$KWH_SOURCE/tests/e2e/peers/pymodbus_server.py" --serial "$T/a" --baud 19200 --parity N \
  --stop-bits 2 --log "$T/writes" >"$T/server.out" 2>&1 &
track $!
wait_for 15 grep -q ready "$T/writes" || fail "pymodbus did not start"

# The server may take a moment to open its end: retry the first read.
wait_for 10 "$CLIENT" --kind rtu --address "$T/b" --baud 19200 --parity N --stop-bits 2 rh 1 0 1 || fail "no answer on the serial line"
expect_exit 0 "$CLIENT" --kind rtu --address "$T/b" --baud 19200 --parity N --stop-bits 2 --gap-ms 10 \
  rh 1 0 3  ri 2 5 2  wm 1 0x57 1,1  rh 1 0x57 2  wc 3 4 1  rc 3 4 1
equals "$OUT" "ok 1000 1001 1002
ok 2005 2006
ok
ok 1 1
ok
ok 1"
contains "$(cat "$T/writes")" "holding 87 1 1"

# A unit that is not on the line stays silent: a timeout (exit 69), and the next request to a
# unit that is there is answered correctly.
expect_exit 69 "$CLIENT" --kind rtu --address "$T/b" --baud 19200 --parity N --timeout-ms 300 rh 9 0 1 rh 1 3 1
equals "$OUT" "fail timeout: 300 ms without a reply
ok 1003"

# A device path that does not exist.
expect_exit 69 "$CLIENT" --kind rtu --address "$T/nonexistent" rh 1 0 1
contains "$OUT" "fail connection refused"
