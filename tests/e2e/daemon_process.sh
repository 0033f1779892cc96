#!/usr/bin/env bash
# kwhd as a service: READY, STATUS and STOPPING on $NOTIFY_SOCKET; Prometheus metrics on
# [metrics] listen; SIGTERM while polls are on the bus stops it within 5 s, exit 0, with what
# it read written.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
kwh init >/dev/null
# Replies take 100 ms, so a cycle of 3 meters is still on the bus when SIGTERM comes.
start_sim 3 1 --faults delay=100ms
add_site 1 3
port=$(free_port)
write_config "[metrics]" "listen = \"127.0.0.1:$port\""

# A datagram listener standing in for systemd.
/usr/bin/python3 - "$T/notify.sock" "$T/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        msg = s.recv(4096).decode()
        log.write(msg + "\n")
        if msg == "STOPPING=1":
            break
PY
track $!
wait_for 5 test -S "$T/notify.sock" || fail "notify listener did not start"

NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=1000000 start_kwhd
wait_for 10 grep -q '^READY=1$' "$T/notify.log" || { cat "$T/kwhd.err" >&2; fail "no READY=1"; }
wait_for 10 grep -q '^STATUS=polling 3 of 3 meters, 0 offline$' "$T/notify.log" || fail "no STATUS: $(cat "$T/notify.log")"
wait_for 5 grep -q '^WATCHDOG=1$' "$T/notify.log" || fail "no WATCHDOG=1"

metrics() { /usr/bin/python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$port$1', timeout=5).read().decode())"; }
wait_for 10 at_least 3 "SELECT count(*) FROM readings" || fail "no readings"
text=$(metrics /metrics)
contains "$text" '# TYPE kwh_polls_total counter'
contains "$text" 'kwh_polls_total{result="timeout"} 0'
contains "$text" 'kwh_meters{status="online"} 3'
contains "$text" 'kwh_poll_duration_seconds_bucket{le="+Inf"}'
contains "$text" 'kwh_db_write_seconds_count'
ok=$(printf '%s\n' "$text" | sed -n 's/^kwh_polls_total{result="ok"} //p')
[ "$ok" -ge 3 ] || fail "kwh_polls_total ok is $ok"
written=$(printf '%s\n' "$text" | sed -n 's/^kwh_readings_written_total //p')
[ "$written" -ge 1 ] || fail "kwh_readings_written_total is $written"
/usr/bin/python3 -c "
import urllib.request, urllib.error
try:
    urllib.request.urlopen('http://127.0.0.1:$port/other', timeout=5)
    raise SystemExit('expected 404')
except urllib.error.HTTPError as e:
    assert e.code == 404, e.code
" || fail "other paths should be 404"

# SIGTERM in the middle of a cycle (the polls take 100 ms each, starting at the second).
/usr/bin/python3 -c 'import time; time.sleep(1.15 - time.time() % 1)'
kill -TERM $KWHD_PID
start=$(date +%s%N)
rc=0
wait $KWHD_PID || rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
equals "$rc" 0
[ $ms -lt 5000 ] || fail "kwhd took $ms ms to stop"
wait_for 5 grep -q '^STOPPING=1$' "$T/notify.log" || fail "no STOPPING=1"
contains "$(cat "$T/kwhd.err")" "SIGTERM: stopping"
# What was read before the signal is in the database; kwhd wrote its metrics count of it.
final=$(sql "SELECT count(*) FROM readings")
[ "$final" -ge "$written" ] || fail "readings lost: $final stored, $written reported earlier"
equals "$(sql "SELECT count(*) FROM commands WHERE state = 'running'")" 0
