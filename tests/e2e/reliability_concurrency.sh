#!/usr/bin/env bash
# Many cashiers at once next to a busy kwhd: 8 cashier processes each sell 30 times (unique
# refs, 4 accounts, odd cents) while kwhd polls 200 simulated meters (3600x speed) every second and bills four
# of them. No error may reach a cashier (every sale exits 0, nothing on stderr, no "busy"), and
# every account's sales are exactly what was sold, to the cent, and its balance is its ledger.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
CASHIERS=${CASHIERS:-8}
SALES=${SALES:-30}
ACCOUNTS=4

kwh init >/dev/null
start_sim 200 2 --speed 3600
add_site 2 100
write_config "[billing]" "max_power_w = 100000000"
kwh tariff add flat --flat 1.0000 >/dev/null
for ((a = 1; a <= ACCOUNTS; a++)); do
  kwh account open "A$a" --name "Shop $a" --tariff flat --meter "M1_$a" >/dev/null
done
start_kwhd
# Wait for kwhd's first full cycle, so that the sales really overlap its writes.
wait_for 15 at_least 200 "SELECT count(*) FROM readings" || fail "kwhd stored no cycle"

cashier() {
  local c=$1 i rc
  for ((i = 1; i <= SALES; i++)); do
    rc=0
    "$KWH" sell "A$(( (c + i) % ACCOUNTS + 1 ))" "$c.$(printf %02d $i)" --ref "c$c-$i" \
      >/dev/null 2>>"$T/cashier.err" || rc=$?
    echo "$rc" >>"$T/rcs.$c"
    sleep 0.05
  done
}
r0=$(sql "SELECT count(*) FROM readings")
cpids=()
for ((c = 1; c <= CASHIERS; c++)); do cashier $c & cpids+=($!); done
wait "${cpids[@]}"
kill -0 "$KWHD_PID" || fail "kwhd died: $(tail -3 "$T/kwhd.err")"

codes=$(cat "$T"/rcs.* | sort | uniq -c | tr '\n' ' ')
[ "$(cat "$T"/rcs.* | grep -vc '^0$' || true)" = 0 ] || fail "sales failed, exit codes: $codes; $(head -3 "$T/cashier.err")"
[ ! -s "$T/cashier.err" ] || fail "errors reached the cashiers: $(head -3 "$T/cashier.err")"
equals "$(cat "$T"/rcs.* | wc -l)" $((CASHIERS * SALES))

# Expected sales per account, in minor units, computed the same way the cashiers chose them.
declare -A want
for ((c = 1; c <= CASHIERS; c++)); do
  for ((i = 1; i <= SALES; i++)); do
    a=$(( (c + i) % ACCOUNTS + 1 )); want[$a]=$(( ${want[$a]:-0} + c * 100 + i ))
  done
done
for ((a = 1; a <= ACCOUNTS; a++)); do
  equals "$(sql "SELECT count(*) FROM ledger l JOIN accounts a ON a.id = l.account_id WHERE a.name = 'A$a' AND kind = 'sale'")" \
    $((CASHIERS * SALES / ACCOUNTS))
  equals "$(sql "SELECT sum(amount) FROM ledger l JOIN accounts a ON a.id = l.account_id WHERE a.name = 'A$a' AND kind = 'sale'")" \
    "${want[$a]}"
  # One statement, one snapshot: kwhd goes on billing meanwhile.
  equals "$(sql "SELECT a.balance - ((SELECT sum(amount) FROM ledger l WHERE l.account_id = a.id) - (SELECT \
    coalesce(sum(amount), 0) FROM accumulators c WHERE c.account_id = a.id)) FROM accounts a WHERE a.name = 'A$a'")" 0
done
# kwhd kept polling all 200 meters meanwhile (the sales take a few seconds), and was billing.
at_least $((r0 + 200)) "SELECT count(*) FROM readings" || fail "kwhd stored no full cycle while the cashiers sold"
at_least 1 "SELECT count(*) FROM charges" || fail "kwhd billed nothing"
kill -TERM "$KWHD_PID"; wait "$KWHD_PID" 2>/dev/null || true
expect_exit 0 kwh check
