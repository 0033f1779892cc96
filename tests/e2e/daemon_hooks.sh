#!/usr/bin/env bash
# kwhd's event hooks ([hooks]): an account driven by consumption into alarm1, alarm2 and
# arrears, then sold to, gets one delivery per crossing with the event's JSON on the program's
# stdin; a program that exits 1 is retried until it exits 0, one past the timeout is killed and
# retried; kwh log --hooks says what was sent and what failed; and after kill -9 of kwhd a
# restart neither repeats a delivery nor loses a pending one.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
source "$KWH_SOURCE/tests/e2e/hooks_lib.sh"
need_sqlite3

# flaky.sh KIND: fails its first two runs, then records.
cat >"$H/flaky.sh" <<SH
#!/bin/sh
n=\$(( \$(cat "$H/\$1.tries" 2>/dev/null || echo 0) + 1 ))
echo "\$n" >"$H/\$1.tries"
if [ "\$n" -le 2 ]; then echo "not yet, try \$n"; exit 1; fi
exec "$H/record.sh" "\$1"
SH
# payment.sh: fails while $H/hold exists; its first run hangs past the timeout.
cat >"$H/payment.sh" <<SH
#!/bin/sh
if [ -e "$H/hold" ]; then echo "held by the test" >&2; exit 1; fi
n=\$(( \$(cat "$H/payment.tries" 2>/dev/null || echo 0) + 1 ))
echo "\$n" >"$H/payment.tries"
if [ "\$n" -eq 1 ]; then echo "sending slowly"; sleep 30; fi
exec "$H/record.sh" payment
SH
chmod 755 "$H"/*.sh

kwh init >/dev/null
# 2 kW at 3600x: 2 kWh, 2.00 at 1.00 a kWh, each second.
start_sim 1 1 --speed 3600 --load-w 2000
add_site 1 1
kwh tariff add flat --flat 1.0000 >/dev/null
kwh account open A1 --name "Tea House" --phone "+8613800000001" --tariff flat --meter M1_1 --alarm1 10 --alarm2 5 >/dev/null
# Before kwhd has hooks: this sale is history, never delivered.
kwh sell A1 14 >/dev/null
write_config '[billing]' 'max_power_w = 100000000' '[hooks]' \
  "low_balance = \"$H/record.sh\"" "arrears = [\"$H/flaky.sh\", \"arrears\"]" "payment = \"$H/payment.sh\"" \
  "relay_off = [\"$H/record.sh\", \"relay_off\"]" "relay_on = [\"$H/record.sh\", \"relay_on\"]" \
  'timeout = "1s"' 'max_running = 2' 'retry = ["1s", "1s", "1s", "5s"]'
expect_exit 0 kwhd --config "$T/kwh.toml" --check-config
start_kwhd

# Down through alarm1 and alarm2 into arrears; the relay is opened.
wait_for 40 is "SELECT status FROM accounts WHERE name = 'A1'" arrears || { cat "$T/kwhd.err" >&2; fail "no arrears"; }
wait_for 20 has_lines relay_off 1 || { cat "$T/kwhd.err" >&2; fail "relay_off hook not run"; }
wait_for 20 has_lines arrears 1 || { cat "$T/kwhd.err" >&2; fail "arrears hook not delivered"; }
equals "$(lines low_balance)" 2
equals "$(lines arrears)" 1
equals "$(lines relay_off)" 1
equals "$(cat "$H/arrears.tries")" 3
# The fields, and the balance right after the crossing: the one the event's detail has.
equals "$(field low_balance 1 "d['kind'], d['account'], d['name'], d['phone'], d['status'], d['meter'], d['level']")" \
  "('low_balance', 'A1', 'Tea House', '+8613800000001', 'alarm1', 'M1_1', 'alarm1')"
equals "$(field low_balance 2 "d['status'], d['level'], d['threshold']")" "('alarm2', 'alarm2', '5.00')"
for n in 1 2; do
  level=$(field low_balance $n "d['level']")
  detail=$(sql "SELECT detail FROM events WHERE kind = '$level'")
  equals "account A1 balance $(field low_balance $n "d['balance']")" "$detail"
  equals "$(field low_balance $n "d['event']")" "$(sql "SELECT id FROM events WHERE kind = '$level'")"
done
equals "account A1 balance $(field arrears 1 "d['balance']")" "$(sql "SELECT detail FROM events WHERE kind = 'arrears'")"
equals "$(field arrears 1 "d['status'], d['credit_limit']")" "('arrears', '0.00')"
equals "$(field relay_off 1 "d['kind'], d['reason'], d['meter'], d['account']")" "('relay_off', 'arrears', 'M1_1', 'A1')"
equals "$(field relay_off 1 "d['command']")" "$(sql "SELECT id FROM commands WHERE action = 'relay_off'")"

# A sale lifts it out of arrears: payment (its first run killed at the timeout) and relay_on.
kwh sell A1 500 --ref till-1 >/dev/null
sale_balance=$(sql "SELECT printf('%.2f', balance / 100.0) FROM ledger WHERE ref = 'till-1'")
wait_for 30 has_lines payment 1 || { cat "$T/kwhd.err" >&2; fail "payment hook not delivered"; }
wait_for 30 has_lines relay_on 1 || { cat "$T/kwhd.err" >&2; fail "relay_on hook not run"; }
equals "$(field payment 1 "d['kind'], d['amount'], d['balance'], d['ref'], d['method'], d['account']")" \
  "('payment', '500.00', '$sale_balance', 'till-1', 'cash', 'A1')"
equals "$(field relay_on 1 "d['reason']")" topup
equals "$(cat "$H/payment.tries")" 2

# kwh log --hooks: what was sent, after how many attempts, and why the failures failed.
expect_exit 0 kwh log --hooks --json
log=$OUT
equals "$(printf '%s' "$log" | json "[(r['kind'], r['account'], r['state'], r['attempts']) for r in d]")" \
  '[["low_balance", "A1", "sent", 1], ["low_balance", "A1", "sent", 1], ["arrears", "A1", "sent", 3], ["relay_off", "A1", "sent", 1], ["payment", "A1", "sent", 2], ["relay_on", "A1", "sent", 1]]'
equals "$(printf '%s' "$log" | json "[r['error'] for r in d if r['kind'] in ('arrears', 'payment')]")" \
  '["exit 1: not yet, try 2", "timed out after 1 s, killed: sending slowly"]'
equals "$(printf '%s' "$log" | json "d[2]['program']")" "$H/flaky.sh arrears"
expect_exit 0 kwh log --hooks --kind payment --format csv
equals "$(printf '%s\n' "$OUT" | head -1)" "id,time,kind,account,program,state,attempts,error,next_try"
equals "$(printf '%s\n' "$OUT" | wc -l)" 2
expect_exit 0 kwh log --hooks --state failed -q
equals "$OUT" ""
expect_exit 64 kwh log --hooks --state lost
expect_exit 64 kwh log --state sent
grep -q "hook [0-9]* arrears failed (attempt 1), tried again in 1s: exit 1: not yet, try 1" "$T/kwhd.err" ||
  { cat "$T/kwhd.err" >&2; fail "no log line for the retry"; }

# A delivery pending when kwhd is killed: delivered once after the restart, nothing else again.
touch "$H/hold"
kwh sell A1 7 --ref till-2 >/dev/null
wait_for 20 is "SELECT attempts > 0 FROM hook_deliveries WHERE kind = 'payment' AND state = 'pending'" 1 ||
  { cat "$T/kwhd.err" >&2; fail "the held payment was not tried"; }
kill -9 "$KWHD_PID"
wait "$KWHD_PID" 2>/dev/null || true
equals "$(sql "SELECT state FROM hook_deliveries WHERE kind = 'payment' ORDER BY id DESC LIMIT 1")" pending
contains "$(sql "SELECT last_error FROM hook_deliveries WHERE kind = 'payment' ORDER BY id DESC LIMIT 1")" "held by the test"
rm "$H/hold"
start_kwhd
wait_for 30 has_lines payment 2 || { cat "$T/kwhd.err" >&2; fail "the pending payment was lost"; }
equals "$(field payment 2 "d['amount'], d['ref']")" "('7.00', 'till-2')"
sleep 3
equals "$(lines low_balance) $(lines arrears) $(lines relay_off) $(lines payment) $(lines relay_on)" "2 1 1 2 1"
equals "$(sql "SELECT count(*) FROM hook_deliveries")" 7
equals "$(sql "SELECT count(*) FROM hook_deliveries WHERE state = 'sent'")" 7
# The first sale, before hooks were configured, was never delivered.
equals "$(sql "SELECT count(*) FROM hook_deliveries WHERE kind = 'payment' AND payload LIKE '%\"14.00\"%'")" 0
kill -TERM "$KWHD_PID"
wait "$KWHD_PID" 2>/dev/null || true
