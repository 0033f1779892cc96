#!/usr/bin/env bash
# kwh sim: several gateways on consecutive ports, RTU framing, each injected fault as our
# client sees it, usage errors, and a clean stop on SIGINT.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sim_lib.sh"
[ -x "$CLIENT" ] || skip "kwh-modbus-client not built"
c() { "$CLIENT" --kind tcp --address "127.0.0.1:$1" --timeout-ms "${TMO:-300}" "${@:2}"; }

# 10 meters on 3 gateways: blocks of 4, so ports P, P+1, P+2 carry units 1-4, 1-4, 1-2.
start_sim --meters 10 --gateways 3
contains "$BANNER" "10 meters on 127.0.0.1:$P-$((P + 2))"
contains "$BANNER" "4 units per gateway"
expect_exit 0 c $((P + 1)) rh 4 0 2 rh 4 0x57 2
contains "$OUT" "ok 1 0"
expect_exit 0 c $((P + 2)) rh 2 0 2
expect_exit 1 c $((P + 2)) rh 3 0 2 rh 1 0x200 1
equals "$OUT" "fail exception 11 (gateway target device failed to respond)
fail exception 2 (illegal data address)"
stop_sim INT

start_sim --meters 2 --faults exception=1
expect_exit 1 c "$P" rh 1 0 2
equals "$OUT" "fail exception 4 (server device failure)"
stop_sim

start_sim --meters 2 --faults drop=1
expect_exit 69 c "$P" rh 1 0 2
equals "$OUT" "fail timeout: 300 ms without a reply"
stop_sim

start_sim --meters 2 --faults reset=1
expect_exit 0 c "$P" rh 1 0 4
equals "$OUT" "ok 0 0 0 0"
stop_sim

start_sim --meters 2 --faults delay=400ms
expect_exit 69 c "$P" rh 1 0 2
TMO=1000 expect_exit 0 c "$P" rh 1 0 2
stop_sim

# Every reply 400 ms late, timeout 300 ms: reply 1 arrives while request 2 waits, and must not
# be taken for its answer.
start_sim --meters 2 --faults late=1,late-by=400ms
expect_exit 69 c "$P" rh 1 0 2 rh 2 0 2
equals "$OUT" "fail timeout: 300 ms without a reply
fail timeout: 300 ms without a reply"
stop_sim

start_sim --meters 4 --gateways 2 --faults silent-gateway=2
expect_exit 0 c "$P" rh 1 0 2
expect_exit 69 c $((P + 1)) rh 1 0 2
contains "$OUT" "fail timeout"
stop_sim

start_sim --meters 3 --faults garbage=1
expect_exit 1 c "$P" rh 1 0 2
contains "$OUT" "fail bad frame"
stop_sim

# Meter 2 flaps: online for 600 ms, then offline for 600 ms; meter 1 is always there.
start_sim --meters 3 --faults flap=2,flap-period=600ms
TMO=250 expect_exit 69 c "$P" rh 2 0 2 rh 1 0 2 sleep 300 rh 2 0 2 rh 1 0 2 sleep 300 rh 2 0 2 rh 1 0 2 \
  sleep 300 rh 2 0 2 rh 1 0 2 sleep 300 rh 2 0 2 rh 1 0 2 sleep 300 rh 2 0 2 rh 1 0 2
[ "$(sed -n '2~2p' <<<"$OUT" | grep -c '^ok')" = 6 ] || fail "meter 1 must always answer: $OUT"
[ "$(sed -n '1~2p' <<<"$OUT" | grep -c '^ok')" -ge 1 ] || fail "meter 2 must be online at times: $OUT"
[ "$(sed -n '1~2p' <<<"$OUT" | grep -c '^fail timeout')" -ge 1 ] || fail "meter 2 must be offline at times: $OUT"
stop_sim

start_sim --meters 2 --rtu-over-tcp
contains "$BANNER" "rtu-over-tcp"
expect_exit 0 "$CLIENT" --kind rtu-over-tcp --address "127.0.0.1:$P" rh 2 0 2 wm 2 0x57 1,1 rh 2 0x57 2
contains "$OUT" "ok 1 1"
stop_sim

# Usage errors are one line and exit 64.
expect_exit 64 kwh sim --meters 500
expect_one_line_error
contains "$ERR" "247"
expect_exit 64 kwh sim --faults explode=1
expect_one_line_error
expect_exit 64 kwh sim --speed 0
expect_exit 66 kwh sim --profile no-such-profile
expect_one_line_error
