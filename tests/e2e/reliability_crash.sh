#!/usr/bin/env bash
# Crash safety of sales and polling: cashiers sell with --ref alongside kwhd (polling the
# simulator every second and billing), and over ROUNDS rounds sellers and kwhd are killed with
# SIGKILL at random moments. Afterwards:
#   - every sale acknowledged with exit 0 is in the ledger exactly once (none lost);
#   - retrying every attempted ref (acknowledged or not) writes nothing twice: each attempted
#     ref is in the ledger once, and each account's balance is the sum of its ledger and its
#     sales are exactly 1.00 per attempted ref;
#   - A1 and A2 owe a debt recovered from each sale: every sale recovered its share once, and
#     the debts' remainders agree;
#   - kwh check is clean;
#   - readings have no holes but those of the killed cycles: per meter, the gaps between
#     consecutive readings longer than 2 s are at most the number of kwhd kills (+1 for start);
#   - a site-local midnight falls in the middle of the rounds (the site's zone is a POSIX TZ
#     whose offset puts it there), so kwhd is killed around the moments it charges readings
#     into the day's accumulators and posts the day that ended to the ledger: the day before
#     midnight ends up posted, once, and kwh check replays every open accumulator from its
#     readings.
# ROUNDS (default 5) and ROUND_S (seconds per round, default 1.5) scale it; tests/bench/
# bench_crash.sh runs it with many rounds. Figures are printed on the last line.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
ROUNDS=${ROUNDS:-5}
ROUND_S=${ROUND_S:-1.5}
SELLERS=${SELLERS:-4}
ACCOUNTS=4

kwh init >/dev/null
# 20 kW a meter (about 5.5 Wh a second): the 10 Wh registers step several times in the seconds
# before midnight, so that the day before it has charges to post.
start_sim $ACCOUNTS 1 --load-w 20000
add_site 1 $ACCOUNTS
write_config
kwh tariff add flat --flat 1.0000 >/dev/null
for ((a = 1; a <= ACCOUNTS; a++)); do
  kwh account open "A$a" --name "Shop $a" --tariff flat --meter "M1_$a" >/dev/null
  kwh sell "A$a" 1000 --ref "open-A$a" >/dev/null
done
# A1 and A2 owe a debt recovered as 10 % of each sale, in the sale's own transaction: a kill
# between a top-up and its recovery must leave both or neither.
for a in 1 2; do kwh account debt add "A$a" 1000 --note "arrears" --recover 10% >/dev/null; done
: >"$T/attempted"; : >"$T/acked"; : >"$T/rcs"

# seller K ROUND: sells 1.00 with fresh refs until the stop file appears; records every ref
# before it tries it and again once it was acknowledged (exit 0). Its current kwh's pid is in
# $T/seller.K so that the main loop can kill it.
seller() {
  local k=$1 r=$2 i=0 rc ref acct
  while [ ! -e "$T/stop" ]; do
    i=$((i + 1)); ref="r$r-s$k-$i"; acct="A$(( (k + i) % ACCOUNTS + 1 ))"
    echo "$ref $acct" >>"$T/attempted"
    "$KWH" sell "$acct" 1 --ref "$ref" >/dev/null 2>>"$T/seller.err" &
    echo $! >"$T/seller.$k"
    rc=0; wait $! || rc=$?
    echo "$rc" >>"$T/rcs"
    [ $rc = 0 ] && echo "$ref $acct" >>"$T/acked"
    sleep 0.05
  done
}

kwhd_kills=0; seller_kills=0
# The site's zone: local midnight half-way through the rounds (local = UTC + offset),
# set once the site is made, so that a slow set-up on a busy machine cannot push kwhd's first
# readings past it.
midnight=$(awk -v now="$(date +%s)" -v r="$ROUNDS" -v s="$ROUND_S" 'BEGIN { printf "%d", now + 3 + r * s / 2 }')
off=$(( (86400 - midnight % 86400) % 86400 ))
export TZ=$(printf 'KWH-%02d:%02d:%02d' $((off / 3600)) $((off % 3600 / 60)) $((off % 60)))

round_ns=$(awk "BEGIN { print int($ROUND_S * 1e9) }")
start_kwhd
for ((r = 1; r <= ROUNDS; r++)); do
  rm -f "$T/stop"
  spids=()
  for ((k = 1; k <= SELLERS; k++)); do seller $k $r 2>/dev/null & spids+=($!); done
  # Kill a random seller's kwh a few times, and kwhd once, at random moments of the round.
  end=$(( $(date +%s%N) + round_ns ))
  killed_daemon=0
  while [ "$(date +%s%N)" -lt $end ]; do
    sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
    k=$((RANDOM % SELLERS + 1))
    p=$(cat "$T/seller.$k" 2>/dev/null || true)
    [ -n "$p" ] && kill -KILL "$p" 2>/dev/null && seller_kills=$((seller_kills + 1))
    if [ $killed_daemon = 0 ] && [ $((RANDOM % 3)) = 0 ]; then
      kill -KILL "$KWHD_PID" 2>/dev/null || true; wait "$KWHD_PID" 2>/dev/null || true
      kwhd_kills=$((kwhd_kills + 1)); killed_daemon=1
      cp "$T/kwhd.err" "$T/kwhd.err.$r" 2>/dev/null || true
      start_kwhd
    fi
  done
  touch "$T/stop"
  wait "${spids[@]}" 2>/dev/null || true
done
# A last second of polling so that the final readings are there, then stop kwhd cleanly.
sleep 1.2
kill -TERM "$KWHD_PID"; wait "$KWHD_PID" 2>/dev/null || true

attempted=$(wc -l <"$T/attempted"); acked=$(wc -l <"$T/acked")
[ "$acked" -ge 1 ] || fail "no sale was acknowledged (exit codes: $(sort "$T/rcs" | uniq -c | tr '\n' ' '))"
# Exit codes other than 0 and 137 (killed) are failures the cashier would see.
others=$(grep -cvE '^(0|137)$' "$T/rcs" || true)
[ "$others" = 0 ] || { cat "$T/seller.err" >&2; fail "$others sales failed with exit codes: $(sort "$T/rcs" | uniq -c | tr '\n' ' ')"; }

# Acknowledged sales: each in the ledger exactly once, as a sale of 1.00 to its account.
sql "CREATE TABLE IF NOT EXISTS t_acked(ref TEXT, account TEXT)"
while read -r ref acct; do echo "INSERT INTO t_acked VALUES('$ref','$acct');"; done <"$T/acked" | sql
lost=$(sql "SELECT count(*) FROM t_acked k WHERE (SELECT count(*) FROM ledger l JOIN accounts a ON a.id = l.account_id
  WHERE l.ref = k.ref AND l.kind = 'sale' AND l.amount = 100 AND a.name = k.account) <> 1")
dups=$(sql "SELECT count(*) FROM (SELECT ref FROM ledger WHERE ref IS NOT NULL GROUP BY ref HAVING count(*) > 1)")

# Retry every attempted ref (by 4 cashiers at once): exit 0 each time, nothing twice afterwards.
split -n l/4 "$T/attempted" "$T/retry."
rpids=()
for f in "$T"/retry.*; do
  while read -r ref acct; do
    rc=0; "$KWH" sell "$acct" 1 --ref "$ref" >/dev/null 2>>"$T/retry.err" || rc=$?
    echo "$rc $ref" >>"$T/retry.rcs"
  done <"$f" &
  rpids+=($!)
done
wait "${rpids[@]}"
[ "$(grep -vc '^0 ' "$T/retry.rcs" || true)" = 0 ] || { cat "$T/retry.err" >&2; fail "retries failed: $(grep -v '^0 ' "$T/retry.rcs" | head)"; }
sql "CREATE TABLE IF NOT EXISTS t_attempted(ref TEXT, account TEXT)"
while read -r ref acct; do echo "INSERT INTO t_attempted VALUES('$ref','$acct');"; done <"$T/attempted" | sql
not_once=$(sql "SELECT count(*) FROM t_attempted k WHERE (SELECT count(*) FROM ledger WHERE ref = k.ref) <> 1")
dups_after=$(sql "SELECT count(*) FROM (SELECT ref FROM ledger WHERE ref IS NOT NULL GROUP BY ref HAVING count(*) > 1)")
sql "DROP TABLE t_acked; DROP TABLE t_attempted"

echo "rounds=$ROUNDS kwhd_kills=$kwhd_kills seller_kills=$seller_kills attempted=$attempted acknowledged=$acked lost=$lost duplicated=$dups"
[ "$lost" = 0 ] || fail "$lost acknowledged sales are not in the ledger exactly once"
[ "$dups" = 0 ] || fail "$dups refs are in the ledger more than once"
[ "$not_once" = 0 ] || fail "after retries, $not_once attempted refs are not in the ledger exactly once"
[ "$dups_after" = 0 ] || fail "after retries, $dups_after refs are in the ledger more than once"
for ((a = 1; a <= ACCOUNTS; a++)); do
  n=$(grep -c " A$a\$" "$T/attempted" || true)
  equals "$(sql "SELECT sum(amount) FROM ledger l JOIN accounts a ON a.id = l.account_id WHERE a.name = 'A$a' AND kind = 'sale'")" \
    "$((100000 + n * 100))"
  # The balance is the ledger's sum less what the open accumulators hold.
  equals "$(sql "SELECT a.balance - ((SELECT sum(amount) FROM ledger l WHERE l.account_id = a.id) - (SELECT \
    coalesce(sum(amount), 0) FROM accumulators c WHERE c.account_id = a.id)) FROM accounts a WHERE a.name = 'A$a'")" 0
done
# Every sale to an account with a debt recovered 0.10 of it, once, named by its receipt; the
# debt's remainder is what is left of 1000.00 after them.
for a in 1 2; do
  n=$(grep -c " A$a\$" "$T/attempted" || true)
  [ "$n" -ge 1 ] || fail "no sale was attempted for A$a"
  equals "$(sql "SELECT count(*) FROM ledger l JOIN accounts a ON a.id = l.account_id WHERE a.name = 'A$a' AND
    l.kind = 'sale' AND l.ref LIKE 'r%' AND (SELECT count(*) FROM ledger d WHERE d.kind = 'debt' AND d.amount = -10
    AND d.account_id = l.account_id AND d.note = 'debt ' || d.debt_id || ' recovered from receipt ' || l.receipt) = 1")" "$n"
  equals "$(sql "SELECT count(*) FROM ledger l JOIN accounts a ON a.id = l.account_id WHERE a.name = 'A$a' AND l.kind = 'debt'")" "$n"
  equals "$(sql "SELECT d.remaining FROM debts d JOIN accounts a ON a.id = d.account_id WHERE a.name = 'A$a'")" "$((100000 - n * 10))"
done
expect_exit 0 kwh check

# Readings: polled every second, with holes only where kwhd was killed.
[ "$(sql "SELECT count(*) FROM readings")" -ge $((ACCOUNTS * ROUNDS)) ] || fail "too few readings"
worst=$(sql "WITH g AS (SELECT meter_id, t - lag(t) OVER (PARTITION BY meter_id ORDER BY t) AS gap FROM readings)
  SELECT max(n) FROM (SELECT meter_id, count(*) AS n FROM g WHERE gap > 2 GROUP BY meter_id)")
worst=${worst:-0}
[ "$worst" -le $((kwhd_kills + 1)) ] || {
  sql "WITH g AS (SELECT meter_id, t, t - lag(t) OVER (PARTITION BY meter_id ORDER BY t) AS gap FROM readings)
    SELECT * FROM g WHERE gap > 2" >&2
  fail "a meter has $worst gaps longer than 2 s in its readings, with $kwhd_kills kwhd kills"; }
# The day that ended at midnight was posted to the ledger (by each meter's first reading after
# it); nothing of it is still open, and what was charged before midnight is all in the ledger.
equals "$(sql "SELECT count(*) FROM accumulators WHERE day < $midnight")" 0
at_least 1 "SELECT count(*) FROM ledger WHERE kind = 'charge' AND t1 < $midnight AND t1 >= $midnight - 86400" ||
  fail "no charge of the day before midnight was posted"
# No charge was ever billed twice for the same meter and interval.
equals "$(sql "SELECT count(*) FROM (SELECT meter_id, t1 FROM ledger WHERE kind = 'charge' GROUP BY meter_id, t1 HAVING count(*) > 1)")" 0
echo "reading gaps > 2 s (worst meter): $worst"
