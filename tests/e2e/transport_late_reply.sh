#!/usr/bin/env bash
# A late reply is never taken for the answer to a later request (libmodbus issue 255): a device
# answers request 1 after the timeout, then request 2 at once. Over Modbus TCP the stale frame
# is dropped by its transaction id; over RTU the bus drains the line before request 2.
source "$(dirname "$0")/lib.sh"
CLIENT="$KWH_BUILD/kwh-modbus-client"
[ -x "$CLIENT" ] || skip "kwh-modbus-client not built"

for mode in tcp rtu; do
  P=$(free_port)
  /usr/bin/python3 "$KWH_SOURCE/tests/e2e/peers/late_peer.py" "$P" "$mode" 700 >"$T/peer-$mode.out" 2>&1 &
  track $!
  wait_for 10 grep -q ready "$T/peer-$mode.out" || fail "late peer did not start"
  kind=tcp; [ "$mode" = rtu ] && kind=rtu-over-tcp
  # Request 1 times out at 400 ms; its reply (1111) comes at 700 ms. Request 2 must read 2222.
  # Over TCP, request 2 goes out at once, so its reply (2222) comes before the stale one, and
  # request 3 (after the stale reply has arrived) must still read 2222, not 1111.
  expect_exit 69 "$CLIENT" --kind "$kind" --address "127.0.0.1:$P" --timeout-ms 400 \
    rh 1 0 2  rh 1 0 2  sleep 500  rh 1 0 2
  equals "$OUT" "fail timeout: 400 ms without a reply
ok 2222 2223
ok 2222 2223"
  not_contains "$OUT" "1111"
done
