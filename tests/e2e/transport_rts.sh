#!/usr/bin/env bash
# RS-485 direction by RTS (kwh gateway add --rtu DEVICE --rts up|down): such a gateway runs on
# libmodbus's RTU backend (lib/kwh/transport/rtu_libmodbus.hpp), which raises or lowers RTS
# around each request. A pty has no modem-control lines, so here RTS cannot be driven: the
# gateway must fail with one clear line naming the device and the reason, in the CLI and in
# kwhd, and never send with the line's direction unknown. (Reading through libmodbus itself is
# covered by the unit tests, tests/unit/test_transport_rtu_libmodbus.cpp, on a pty with RTS
# left alone.) The line itself is fine: a gateway on the same kind of pty without --rts reads
# the simulator exactly, directly and through kwhd.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
command -v socat >/dev/null || skip "socat not installed"
need_sqlite3

kwh init >/dev/null
# kwh sim framing RTU on TCP, with no load: its energy never moves, so every read of a meter
# gives the same number.
start_sim 2 1 --rtu-over-tcp --load-w 0
# Two ptys, each bridged to the simulator: one for the gateway that drives RTS, one for the
# gateway that does not.
socat "pty,raw,echo=0,link=$T/rts" "tcp:127.0.0.1:$SIM_PORT" 2>"$T/socat-rts.log" &
track $!
socat "pty,raw,echo=0,link=$T/plain" "tcp:127.0.0.1:$SIM_PORT" 2>"$T/socat-plain.log" &
track $!
wait_for 10 test -e "$T/rts" -a -e "$T/plain" || fail "socat made no ptys"

kwh gateway add plain --rtu "$T/plain" --baud 19200 --timeout-ms 1000 --gap-ms 5 >/dev/null
kwh gateway add dir --rtu "$T/rts" --baud 19200 --rts up --rts-delay-us 0 --timeout-ms 1000 >/dev/null
kwh meter add P1 --gateway plain --unit 1 --profile acrel-ddsy1352 >/dev/null
kwh meter add R2 --gateway dir --unit 2 --profile acrel-ddsy1352 >/dev/null
expect_exit 0 kwh gateway show dir --json
equals "$(json '[d["rts"], d["rts_delay_us"]]' <<<"$OUT")" '["up", 0]'

# The line works (kwh's own bus, no RTS).
expect_exit 0 kwh meter read P1 --direct --json
E1=$(json 'd["energy_total"]' <<<"$OUT")
[ "$E1" -gt 0 ] || fail "no energy from P1: $OUT"
expect_exit 0 kwh meter read P1 --direct --json
equals "$(json 'd["energy_total"]' <<<"$OUT")" "$E1"

# --rts up on a pty: refused before anything is sent, in one line, exit 69 (unavailable).
why="$T/rts: cannot drive RTS for RS-485 direction (--rts): the port has no RTS line (Inappropriate ioctl for device)"
expect_exit 69 kwh meter read R2 --direct
expect_one_line_error
contains "$ERR" "R2"
contains "$ERR" "connection refused: $why"
expect_exit 69 kwh gateway test dir
contains "$OUT$ERR" "$why"
# --rts down the same.
kwh gateway add dir-down --rtu "$T/rts" --rts down >/dev/null
expect_exit 69 kwh gateway test dir-down
contains "$OUT$ERR" "$why"
kwh gateway remove dir-down >/dev/null
# A device that is not there is refused as well, by libmodbus's open.
kwh gateway add gone --rtu "$T/no-such-tty" --rts up >/dev/null
expect_exit 69 kwh gateway test gone
contains "$OUT$ERR" "$T/no-such-tty: No such file or directory"
kwh gateway remove gone >/dev/null

# kwhd: P1 is read exactly as the CLI read it; dir is unreachable with the same reason, logged
# once, its meter goes offline and nothing is stored for it.
write_config
start=$(date +%s)
start_kwhd
polled_since() {
  local t
  t=$(kwh meter show "$1" --json | json '(d.get("last_reading") or {}).get("time") or ""')
  [ -n "$t" ] && [ "$(date -d "$t" +%s)" -ge "$2" ]
}
wait_for 15 polled_since P1 $((start + 2)) || { cat "$T/kwhd.err" >&2; fail "kwhd stored no reading of P1"; }
wait_for 10 is "SELECT status FROM meters WHERE name = 'R2'" offline ||
  { cat "$T/kwhd.err" >&2; fail "R2 did not go offline"; }
kill -0 "$KWHD_PID" || { cat "$T/kwhd.err" >&2; fail "kwhd is not running"; }
expect_exit 0 kwh meter show P1 --json
equals "$(json 'd["last_reading"]["energy_total"]' <<<"$OUT")" "$E1"
equals "$(json 'd["status"]' <<<"$OUT")" online
expect_exit 0 kwh meter show R2 --json
equals "$(json 'd.get("last_reading")' <<<"$OUT")" None
log=$(cat "$T/kwhd.err")
contains "$log" "gateway dir unreachable"
contains "$log" "$why"
equals "$(grep -c "gateway dir unreachable" <<<"$log")" 1
kill -TERM "$KWHD_PID"
rc=0
wait "$KWHD_PID" || rc=$?
[ "$rc" = 0 ] || { cat "$T/kwhd.err" >&2; fail "kwhd exited $rc on SIGTERM"; }
echo ok
