#!/usr/bin/env bash
# Standing charges reach accounts whose meters send no readings: kwhd charges every open account
# the day boundaries that are due once a day and when it starts, never twice. A1 has no meter
# and was opened three days ago; A2's meter answers, so billing charges it with its readings
# as well. Proves: each is charged its three boundaries exactly once, to the minor unit, and a
# restart of kwhd charges nothing more; kwh check holds.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
kwh init >/dev/null
start_sim 1 1 --speed 60 --load-w 100
add_site 1 1
cat >"$T/daily.toml" <<'TOML'
effective = "2026-01-01"
price = "1.0000"
standing_charge = "1.37"
standing_period = "day"
TOML
kwh tariff add daily --file "$T/daily.toml" >/dev/null
kwh account open A1 --name "No meter" --tariff daily >/dev/null
kwh account open A2 --name "Metered" --tariff daily --meter M1_1 >/dev/null
kwh sell A1 100 >/dev/null
kwh sell A2 100 >/dev/null
# Opened three days ago, a second after the site's midnight then: three boundaries since.
midnight=$(kwh --json account show A1 | python3 -c "
import json, sys, datetime
o = datetime.datetime.fromisoformat(json.load(sys.stdin)['opened'])
d = o.replace(hour=0, minute=0, second=0, microsecond=0) - datetime.timedelta(days=3)
print(int(d.timestamp()) + 1)")
sql "UPDATE accounts SET opened = $midnight"
write_config
start_kwhd
wait_for 15 is "SELECT count(*) FROM ledger WHERE kind = 'standing' AND account_id = (SELECT id FROM accounts WHERE name = 'A1')" 3 ||
  { cat "$T/kwhd.err" >&2; fail "A1 was not charged its three standing charges"; }
wait_for 15 is "SELECT count(*) FROM ledger WHERE kind = 'standing' AND account_id = (SELECT id FROM accounts WHERE name = 'A2')" 3 ||
  { cat "$T/kwhd.err" >&2; fail "A2 was not charged its three standing charges"; }
sleep 2
kill -TERM "$KWHD_PID"
wait "$KWHD_PID" || fail "kwhd did not exit 0"
grep -q "standing charges: " "$T/kwhd.err" || { cat "$T/kwhd.err" >&2; fail "kwhd did not log the standing charges"; }
equals "$(kwh --json account show A1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["balance"])')" "95.89"

# Again: nothing more is due.
start_kwhd
sleep 4
kill -TERM "$KWHD_PID"
wait "$KWHD_PID" || fail "kwhd did not exit 0"
for a in A1 A2; do
  n=$(sql "SELECT count(*) FROM ledger WHERE kind = 'standing' AND account_id = (SELECT id FROM accounts WHERE name = '$a')")
  equals "$n" 3
  amount=$(sql "SELECT -sum(amount) FROM ledger WHERE kind = 'standing' AND account_id = (SELECT id FROM accounts WHERE name = '$a')")
  equals "$amount" 411
done
equals "$(kwh --json account show A1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["balance"])')" "95.89"
expect_exit 0 kwh check
echo ok
