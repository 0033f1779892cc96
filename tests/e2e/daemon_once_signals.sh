#!/usr/bin/env bash
# kwhd --once stops on SIGTERM or SIGINT as kwhd does without it: what is on the bus finishes,
# what was read is written, exit 0 within 5 s; the database checks out afterwards.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
kwh init >/dev/null
# 40 meters on one bus answering after 150 ms each: a --once pass takes well over 5 s, so a
# signal a moment after the first readings are stored comes in the middle of it.
meters=40
start_sim $meters 1 --faults delay=150ms
add_site 1 $meters
write_config

# once_stopped_by SIGNAL: kwhd --once, SIGNAL once the first readings are stored; exit 0 within
# 5 s, having read fewer than all meters, and the readings it had are all stored.
once_stopped_by() {
  local sig=$1 rows0 before after start ms rc=0
  rows0=$(sql "SELECT count(*) FROM readings")
  start_kwhd --once
  wait_for 15 at_least $((rows0 + 1)) "SELECT count(*) FROM readings" || {
    cat "$T/kwhd.err" >&2
    fail "kwhd --once stored no reading"
  }
  kill -"$sig" "$KWHD_PID"
  start=$(date +%s%N)
  before=$(sql "SELECT count(*) FROM readings")
  wait "$KWHD_PID" || rc=$?
  ms=$((($(date +%s%N) - start) / 1000000))
  [ "$rc" = 0 ] || { cat "$T/kwhd.err" >&2; fail "kwhd --once exited $rc after $sig"; }
  [ $ms -lt 5000 ] || fail "kwhd --once took $ms ms to stop after $sig"
  contains "$(cat "$T/kwhd.err")" "$sig: stopping"
  after=$(sql "SELECT count(*) FROM readings")
  [ "$after" -ge "$before" ] || fail "readings lost: $after stored after $sig, $before before"
  [ $((after - rows0)) -ge 1 ] || fail "no reading stored"
  [ $((after - rows0)) -lt $meters ] || fail "the pass was not cut short by $sig ($((after - rows0)) readings)"
  equals "$(sql "SELECT count(*) FROM commands WHERE state = 'running'")" 0
  expect_exit 0 kwh check
}

once_stopped_by TERM
sleep 1 # the next pass's readings are stamped with a later second
once_stopped_by INT
echo "daemon_once_signals: ok"
