#!/usr/bin/env bash
# Issuance: `kwh tariff issue` writes the version in force (prices, and the day plan in Acrel's
# 14 slots of band, minute, hour) to meters whose profile says where, and `kwh meter set
# --alarm1/--alarm2/--overload-w` writes settings the meter keeps; kwhd carries both out as
# set commands and reads them back. Checked against the simulator's registers as read by mbpoll
# (a client we did not write). Meters that cannot keep a tariff are rows of their own, named
# ones are refused before anything is queued, and so are tariffs a meter cannot hold.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
command -v mbpoll >/dev/null || skip "mbpoll not installed (tools/kwh-dev setup installs it)"
kwh init >/dev/null

# A site profile: the Acrel map, with prices at 0100H, a plan at 0200H and settings at 0300H.
sed 's/^name = .*/name = "site-issuable"/' "$KWH_SOURCE/examples/profiles/acrel-ddsy1352.toml" >"$T/issuable.toml"
cat >>"$T/issuable.toml" <<'TOML'

[tariff.prices]
table = "holding"
address = 0x0100
type = "u32"
decimals = 4

[tariff.plan]
table = "holding"
address = 0x0200
slots = 14

[settings.alarm1]
table = "holding"
address = 0x0300
type = "u32"

[settings.alarm2]
table = "holding"
address = 0x0302
type = "u32"

[settings.overload_w]
table = "holding"
address = 0x0304
type = "u16"

[values.meter_balance]
table = "holding"
address = 0x0410
type = "i32"

[values.purchase_count]
table = "holding"
address = 0x0412
type = "u16"

[purchase]
table = "holding"
address = 0x0400
type = "u32"
decimals = 2
TOML
start_sim 3 1 --profile "$T/issuable.toml"
kwh gateway add g --tcp "127.0.0.1:$SIM_PORT" --timeout-ms 500 >/dev/null
kwh meter add I1 --gateway g --unit 1 --profile "$T/issuable.toml" --building B >/dev/null
kwh meter add I2 --gateway g --unit 2 --profile "$T/issuable.toml" --building B >/dev/null
kwh meter add P3 --gateway g --unit 3 --profile acrel-ddsy1352 --building B >/dev/null
cat >"$T/shops.toml" <<'TOML'
effective = "2026-01-01"
[bands]
sharp = "1.4500"
peak = "1.1200"
flat = "0.7800"
valley = "0.3600"
[[windows]]
band = "sharp"
from = "19:00"
to = "21:00"
[[windows]]
band = "peak"
from = "08:00"
to = "12:30"
[[windows]]
band = "valley"
from = "23:00"
to = "07:00"
TOML
kwh tariff add shops --file "$T/shops.toml" >/dev/null
kwh tariff add homes --file "$KWH_SOURCE/examples/tariffs/tiered.toml" >/dev/null
write_config
start_kwhd
diag() { sql "SELECT * FROM commands" >&2; cat "$T/kwhd.err" >&2; }
# words UNIT ADDRESS COUNT: holding registers as mbpoll reads them (its -r is 1-based).
words() { mbpoll -m tcp -a "$1" -r "$(($2 + 1))" -c "$3" -t 4 -1 -p "$SIM_PORT" 127.0.0.1 | sed -n 's/^\[[0-9]*\]:[[:space:]]*\([0-9]*\).*/\1/p' | paste -sd' '; }

# Refused before anything is queued.
expect_exit 65 kwh tariff issue shops I1 P3
expect_one_line_error
contains "$ERR" "meter P3: its profile acrel-ddsy1352 names no place for a tariff ([tariff])"
expect_exit 65 kwh tariff issue homes I1
expect_one_line_error
contains "$ERR" "monthly tiers cannot be kept by a meter"
expect_exit 66 kwh tariff issue nosuch I1
expect_one_line_error
expect_exit 64 kwh tariff issue shops
expect_one_line_error
equals "$(sql "SELECT count(*) FROM commands")" 0

# The building: I1 and I2 get prices and plan, P3 is a row of its own.
expect_exit 0 kwh tariff issue shops --building B --wait 30 --json
equals "$(json '" ".join(sorted(r["meter"] + ":" + r["state"] for r in d))' <<<"$OUT")" \
  "I1:done I1:done I2:done I2:done P3:unsupported"
contains "$ERR" "1 of 3 meters skipped"
# kwhd read back what it wrote: the words of the argument.
json 'all(r["readback"] == " ".join(r["argument"].split("=")[1].split(",")) for r in d if r["state"] == "done")' <<<"$OUT" |
  grep -qx True || { diag; fail "read back differs: $OUT"; }
# The meter holds it: sharp 1.4500 = 14500, peak 11200, flat 7800, valley 3600 (u32 each).
equals "$(words 2 0x0100 8)" "0 14500 0 11200 0 7800 0 3600"
# 00:00 valley (4), 07:00 flat (3), 08:00 peak (2), 12:30 flat, 19:00 sharp (1), 21:00 flat, 23:00 valley, repeated.
plan="4 0 0 3 0 7 2 0 8 3 30 12 1 0 19 3 0 21 4 0 23"
for i in 1 2 3 4 5 6 7; do plan="$plan 4 0 23"; done
equals "$(words 1 0x0200 42)" "$plan"
# P3 was never written.
expect_exit 0 kwh meter set P3 --overload-w 3000
equals "$OUT" "updated meter P3"

# Settings the meter keeps: alarms in minor units, overload in W; kwh keeps its threshold too.
expect_exit 65 kwh meter set P3 --alarm1 5
expect_one_line_error
contains "$ERR" "meter P3: its profile acrel-ddsy1352 keeps no alarm1 ([settings.alarm1])"
expect_exit 65 kwh meter set I1 --alarm1 1.234
expect_one_line_error
before=$(sql "SELECT count(*) FROM commands")
expect_exit 0 kwh meter set I1 --alarm1 20.00 --alarm2 10 --overload-w 5000 --wait 30
equals "$(echo "$OUT" | grep -c ' done ')" 3
equals "$(sql "SELECT count(*) FROM commands")" $((before + 3))
equals "$(sql "SELECT overload_w FROM meters WHERE name = 'I1'")" 5000
equals "$(words 1 0x0300 5)" "0 2000 0 1000 5000"
equals "$(words 2 0x0300 5)" "0 0 0 0 0"

# Purchases: a sale to an account whose meter keeps its own balance is written to the meter,
# numbered after the meter's own count; a refund is not. The meter counts its balance down at
# the prices issued to it, and reconcile sets it beside the ledger's.
kwh account open A1 --name "Shop 1" --tariff shops --meter I1 >/dev/null
kwh account open A3 --name "Shop 3" --tariff shops --meter P3 >/dev/null
expect_exit 65 kwh sell A1 1.005
expect_one_line_error
expect_exit 0 kwh sell A1 200 --json
command=$(json 'd["receipt"]' <<<"$OUT")
wait_for 15 is "SELECT state FROM commands WHERE reason = 'sale'" done || { diag; fail "the purchase was not written"; }
equals "$(sql "SELECT argument FROM commands WHERE reason = 'sale'")" "purchase receipt $command@0x0400=0x0000,0x4E20,0x0001"
equals "$(words 1 0x0400 3)" "0 20000 1"
expect_exit 0 kwh sell A1 50.50
wait_for 15 is "SELECT count(*) FROM commands WHERE reason = 'sale' AND state = 'done'" 2 || { diag; fail "the second purchase was not written"; }
equals "$(words 1 0x0400 3)" "0 5050 2"
# The meter's count is 2 and its balance 250.50 less what it has used since at the issued prices.
wait_for 15 is "SELECT json_extract(\"values\", '$.purchase_count') FROM meter_values WHERE meter_id = (SELECT id FROM meters WHERE name = 'I1')" 2 ||
  { diag; fail "kwhd did not read the meter's purchase count"; }
own=$(sql "SELECT json_extract(\"values\", '$.meter_balance') FROM meter_values WHERE meter_id = (SELECT id FROM meters WHERE name = 'I1')")
[ "$own" -le 25050 ] && [ "$own" -gt 24000 ] || fail "the meter's own balance is $own"
# A purchase the meter already holds (the same number again, as after a lost reply) is done, not taken twice.
sql "INSERT INTO commands(meter_id, action, argument, reason, state, created, not_before) SELECT id, 'set',
     'purchase again@0x0400=0x0000,0x13BA,0x0002', 'test', 'pending', strftime('%s'), strftime('%s') FROM meters WHERE name = 'I1'"
wait_for 15 is "SELECT state FROM commands WHERE reason = 'test'" done || { diag; fail "the repeated purchase was not settled"; }
contains "$(sql "SELECT readback FROM commands WHERE reason = 'test'")" "(the meter had it already)"
# One out of turn is refused for good, and says what the meter holds.
sql "INSERT INTO commands(meter_id, action, argument, reason, state, created, not_before) SELECT id, 'set',
     'purchase wrong@0x0400=0x0000,0x0064,0x0007', 'test2', 'pending', strftime('%s'), strftime('%s') FROM meters WHERE name = 'I1'"
wait_for 15 is "SELECT state FROM commands WHERE reason = 'test2'" failed || { diag; fail "the purchase out of turn was not refused"; }
contains "$(sql "SELECT last_error FROM commands WHERE reason = 'test2'")" "the meter refused the write"
equals "$(words 1 0x0400 3)" "0 5050 2"
# No purchase for a meter that keeps no balance, nor for a refund.
expect_exit 0 kwh sell A3 10
expect_exit 0 kwh refund A1 5
equals "$(sql "SELECT count(*) FROM commands WHERE reason = 'sale'")" 2
# Reconcile: the meter's own balance beside the ledger's.
expect_exit 0 kwh report reconcile --json
row=$(json '[r for r in d if r["source"] == "meter"][0]' <<<"$OUT")
equals "$(json 'd["operator"] + " " + d["method"]' <<<"$row")" "A1 I1"
ledger=$(kwh account show A1 --json | json 'd["balance"]')
equals "$(json 'd["ledger_balance"]' <<<"$row")" "$ledger"
equals "$(json 'round(float(d["meter_balance"]) - float(d["ledger_balance"]), 2) == float(d["net"])' <<<"$row")" True
kill -TERM "$KWHD_PID"; wait "$KWHD_PID" || fail "kwhd did not exit 0"
