#!/usr/bin/env bash
# Modbus RTU on a serial port with even parity, end to end: socat joins a pty to kwh sim
# serving RTU framing on TCP, and kwh::transport reads the meters and switches a relay through
# the pty as a serial port (9600 8E1).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sim_lib.sh"
[ -x "$CLIENT" ] || skip "kwh-modbus-client not built"
command -v socat >/dev/null || skip "socat not installed"

start_sim --meters 3 --rtu-over-tcp --profile generic-water --speed 3600
socat "pty,raw,echo=0,link=$T/tty" "tcp:127.0.0.1:$P" 2>"$T/socat.log" &
track $!
wait_for 10 test -e "$T/tty" || fail "socat made no pty"
rtu() { "$CLIENT" --kind rtu --address "$T/tty" --baud 9600 --parity E --stop-bits 1 --gap-ms 20 "$@"; }
# generic-water: volume_total in holding 0..1 (u32 litres), the valve on coil 0.
expect_exit 0 rtu rh 3 0 2 rc 3 0 1 sleep 300 rh 3 0 2 wc 3 0 0 rc 3 0 1 rh 3 0 2 sleep 300 rh 3 0 2
lines() { sed -n "$1p" <<<"$OUT"; }
equals "$(lines 2)" "ok 1"                      # valve open (relay closed): water flows
[ "$(lines 3)" != "$(lines 1)" ] || fail "volume did not grow while the valve was open: $OUT"
equals "$(lines 5)" "ok 0"
equals "$(lines 7)" "$(lines 6)"                # valve shut: no flow
# A unit that is not there stays silent on RTU: a timeout, then the next request is fine.
expect_exit 69 rtu --timeout-ms 300 rh 9 0 2 rh 1 0 2
contains "$OUT" "fail timeout"
contains "$OUT" "ok "
