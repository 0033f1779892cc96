#!/usr/bin/env bash
# kwhd's event hooks for what happens without a cashier: emergency credit granted by itself
# ([billing] emergency_credit_auto), a cut-off held back by friendly hours (cutoff_warning,
# warn_before ahead of it), a meter that stops answering (meter_offline) and a reading held as
# implausible (reading_held, once while the meter's readings stay held). Each is delivered once, with its own fields, however many polls
# see the condition; kwh log --hooks lists them as sent.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
source "$KWH_SOURCE/tests/e2e/hooks_lib.sh"
need_sqlite3

kwh init >/dev/null
# Two meters at 2 kW and 3600x (2.00 a second each at 1.00 a kWh) for the accounts.
start_sim 2 1 --speed 3600 --load-w 2000
kwh gateway add g1 --tcp "127.0.0.1:$SIM_PORT" --timeout-ms 300 >/dev/null
kwh meter add M1 --gateway g1 --unit 1 --profile acrel-ddsy1352 >/dev/null
kwh meter add M2 --gateway g1 --unit 2 --profile acrel-ddsy1352 >/dev/null
# One meter drawing 5 kW at 3600x: 14.4 MW or more as kwhd sees it, past max_power_w (10 MW,
# which the accounts' meters stay under), so held.
start_sim 1 1 --speed 3600 --load-w 5000
kwh gateway add g2 --tcp "127.0.0.1:$SIM_PORT" --timeout-ms 300 >/dev/null
kwh meter add MH --gateway g2 --unit 1 --profile acrel-ddsy1352 >/dev/null
# A gateway nobody listens on.
kwh gateway add gx --tcp 127.0.0.1:1 --timeout-ms 300 >/dev/null
kwh meter add MX --gateway gx --unit 1 --profile acrel-ddsy1352 >/dev/null

kwh tariff add flat --flat 1.0000 >/dev/null
expect_exit 65 kwh account open A1 --name "Noodle Bar" --tariff flat --meter M1 --language chinese
kwh account open A1 --name "Noodle Bar" --phone "+8613800000011" --language zh-Hans --tariff flat --meter M1 >/dev/null
equals "$(kwh account show A1 --json | json 'd["language"]')" zh-Hans
kwh account open A2 --name "Key Cutter" --tariff flat --meter M2 --emergency-credit 0 >/dev/null
kwh sell A1 6 >/dev/null
kwh sell A2 6 >/dev/null

# Friendly hours from an hour ago to an hour from now (UTC, the site's zone here): A2's cut-off
# waits for their end, which is within warn_before.
from=$(date -u -d '-1 hour' +%H:%M); to=$(date -u -d '+1 hour' +%H:%M)
export TZ=UTC
write_config '[billing]' 'max_power_w = 10000000' 'emergency_credit = "200"' \
  'emergency_credit_auto = true' "friendly_hours = [\"$from-$to\"]" '[hooks]' \
  "emergency_credit = \"$H/record.sh\"" "cutoff_warning = \"$H/record.sh\"" \
  "meter_offline = \"$H/record.sh\"" "reading_held = \"$H/record.sh\"" 'warn_before = "2h"'
expect_exit 0 kwhd --config "$T/kwh.toml" --check-config
start_kwhd

for kind in emergency_credit cutoff_warning meter_offline reading_held; do
  wait_for 40 has_lines $kind 1 || { cat "$T/kwhd.err" >&2; fail "no $kind hook was run"; }
done
# A few more polls: still one of each crossing.
sleep 3
for kind in emergency_credit cutoff_warning meter_offline reading_held; do equals "$(lines $kind)" 1; done
at_least 3 "SELECT count(*) FROM held_readings" || fail "too few held readings to tell one message from many"

equals "$(field emergency_credit 1 "d['kind'], d['account'], d['name'], d['phone'], d['language'], d['amount'], d['meter']")" \
  "('emergency_credit', 'A1', 'Noodle Bar', '+8613800000011', 'zh-Hans', '200.00', 'M1')"
equals "$(field emergency_credit 1 "d['entry']")" \
  "$(sql "SELECT l.id FROM ledger l JOIN accounts a ON a.id = l.account_id WHERE a.name = 'A1' AND l.kind = 'emergency'")"
equals "$(field emergency_credit 1 "d['balance']")" \
  "$(sql "SELECT printf('%.2f', l.balance / 100.0) FROM ledger l WHERE l.kind = 'emergency'")"

# The cut-off is still pending, held until the friendly hours end; the warning names it.
cmd=$(sql "SELECT id FROM commands WHERE action = 'relay_off' AND state = 'pending'")
[ -n "$cmd" ] || fail "A2's cut-off is not pending"
equals "$(field cutoff_warning 1 "d['kind'], d['account'], d['meter'], d['status'], d['command'], d['language']")" \
  "('cutoff_warning', 'A2', 'M2', 'arrears', $cmd, None)"
equals "$(field cutoff_warning 1 "d['cutoff']")" \
  "$(sql "SELECT strftime('%Y-%m-%dT%H:%M:%S+00:00', not_before, 'unixepoch') FROM commands WHERE id = $cmd")"

equals "$(field meter_offline 1 "d['kind'], d['meter'], d['gateway'], d['account']")" \
  "('meter_offline', 'MX', 'gx', None)"
equals "$(field meter_offline 1 "d['event']")" "$(sql "SELECT id FROM events WHERE kind = 'meter_offline'")"
equals "$(field reading_held 1 "d['kind'], d['meter']")" "('reading_held', 'MH')"
equals "$(field reading_held 1 "d['event']")" \
  "$(sql "SELECT min(id) FROM events WHERE kind = 'implausible'")"

kill -TERM "$KWHD_PID"; wait "$KWHD_PID" || fail "kwhd did not stop cleanly"
expect_exit 0 kwh log --hooks --json
equals "$(printf '%s' "$OUT" | json "sorted(set((r['kind'], r['state']) for r in d))")" \
  '[["cutoff_warning", "sent"], ["emergency_credit", "sent"], ["meter_offline", "sent"], ["reading_held", "sent"]]'
echo "daemon_hooks_meters: ok"
