#!/usr/bin/env bash
# kwhd against a Modbus TCP server built on libmodbus (kwh-libmodbus-server, see
# tests/e2e/peers/libmodbus_server.c), a stack kwh did not write, serving two acrel-ddsy1352
# meters with fixed energy: kwhd polls them every second, `kwh meter show` and `kwh meter list
# --json` give exactly the served energy (register units × 10 Wh) and the other values, and
# `kwh relay off/on` carried out by kwhd leave the server's relay control pair at 0001 0001,
# then 0001 0000, as the libmodbus client reads it. Last, the same site against the server's
# --strict mode, which refuses any read that touches an unmapped register, as real meters do:
# kwhd still reads every value exactly.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
SERVER="$KWH_BUILD/kwh-libmodbus-server"
LM="$KWH_BUILD/kwh-libmodbus-client"
for b in "$SERVER" "$LM"; do
  [ -x "$b" ] || fail "$b is not built: build the tree (it needs libmodbus, which kwh needs too)"
done

# start_server ARGS...: the libmodbus server in the background; sets SRV (pid) and SRV_PORT.
_srv_n=0
start_server() {
  _srv_n=$((_srv_n + 1))
  "$SERVER" "$@" >"$T/srv$_srv_n.out" 2>"$T/srv$_srv_n.err" &
  SRV=$!
  track $SRV
  wait_for 10 grep -q "libmodbus server:" "$T/srv$_srv_n.out" || { cat "$T/srv$_srv_n.err" >&2; fail "the libmodbus server did not start"; }
  SRV_LINE=$(head -1 "$T/srv$_srv_n.out")
  SRV_PORT=$(sed -E 's/.*127\.0\.0\.1:([0-9]+).*/\1/' <<<"$SRV_LINE")
}
stop_server() {
  kill -TERM "$SRV"
  local rc=0
  wait "$SRV" || rc=$?
  [ "$rc" = 0 ] || fail "the libmodbus server exited $rc on SIGTERM"
}
stop_kwhd() {
  kill -TERM "$KWHD_PID"
  local rc=0
  wait "$KWHD_PID" || rc=$?
  [ "$rc" = 0 ] || { cat "$T/kwhd.err" >&2; fail "kwhd exited $rc on SIGTERM"; }
}
lm() { "$LM" --tcp "127.0.0.1:$SRV_PORT" "$@"; }
# polled_since METER EPOCH: kwhd stored a reading of METER taken at or after EPOCH.
polled_since() {
  local t
  t=$(kwh meter show "$1" --json | json '(d.get("last_reading") or {}).get("time") or ""')
  [ -n "$t" ] && [ "$(date -d "$t" +%s)" -ge "$2" ]
}

# Unit 1 serves these bands (0.01 kWh), unit 2 twice them: totals 76666 and 153332, both
# beyond one 16-bit word.
BANDS=1111,2222,70000,3333
start_server --units 2 --bands "$BANDS"
equals "$SRV_LINE" "libmodbus server: units 1-2 on 127.0.0.1:$SRV_PORT"
expect_exit 0 lm rh 1 0 2 rh 2 0 2 rh 1 0x57 2
equals "$OUT" "ok 1 11130
ok 2 22260
ok 1 0"

kwh init >/dev/null
kwh gateway add lm --tcp "127.0.0.1:$SRV_PORT" --timeout-ms 500 >/dev/null
kwh meter add M1 --gateway lm --unit 1 --profile acrel-ddsy1352 >/dev/null
kwh meter add M2 --gateway lm --unit 2 --profile acrel-ddsy1352 >/dev/null
kwh tariff add flat --flat 1.0000 >/dev/null
kwh account open A1 --name "Shop 1" --tariff flat --meter M1 >/dev/null
kwh account open A2 --name "Shop 2" --tariff flat --meter M2 >/dev/null
kwh sell A1 100 >/dev/null
kwh sell A2 100 >/dev/null
write_config
start=$(date +%s)
start_kwhd
# A few polling cycles (1 s apart): a reading at least 2 s after kwhd started, for both meters.
for m in M1 M2; do
  wait_for 15 polled_since "$m" $((start + 2)) || { cat "$T/kwhd.err" >&2; fail "kwhd stored no reading of $m"; }
done
kill -0 "$KWHD_PID" || { cat "$T/kwhd.err" >&2; fail "kwhd is not running"; }

# The energy the server serves, exactly: register units × 10 Wh.
expect_exit 0 kwh meter show M1 --json
M1=$OUT
equals "$(json 'd["status"]' <<<"$M1")" online
equals "$(json 'd["account"]' <<<"$M1")" A1
equals "$(json 'd["last_reading"]["energy_total"]' <<<"$M1")" 766660
equals "$(json '[d["last_reading"][k] for k in ("energy_sharp","energy_peak","energy_flat","energy_valley")]' <<<"$M1")" \
  "[11110, 22220, 700000, 33330]"
equals "$(json '[d["last_reading"][k] for k in ("voltage_a","current_a","power_total","power_factor")]' <<<"$M1")" \
  "[230.1, 4.52, 1040, 0.98]"
expect_exit 0 kwh meter show M2 --json
equals "$(json 'd["last_reading"]["energy_total"]' <<<"$OUT")" 1533320
equals "$(json 'd["last_reading"]["energy_flat"]' <<<"$OUT")" 1400000
expect_exit 0 kwh meter list --json
equals "$(json '{m["meter"]: [m["gateway"], m["unit"], m["status"], m["energy_kwh"]] for m in d}' <<<"$OUT")" \
  '{"M1": ["lm", 1, "online", 766.66], "M2": ["lm", 2, "online", 1533.32]}'
# Fixed energy: nothing used, nothing charged, both accounts in credit with their relays alone.
expect_exit 0 kwh account list --json
equals "$(json '[[a["account"], a["status"], a["balance"]] for a in d]' <<<"$OUT")" \
  '[["A1", "ok", "100.00"], ["A2", "ok", "100.00"]]'
expect_exit 0 lm rh 1 0x57 2 rh 2 0x57 2
equals "$OUT" "ok 1 0
ok 1 0"

# kwhd carries out `kwh relay off`: the libmodbus server holds the profile's off words.
expect_exit 0 kwh relay off M1 --wait 10
expect_exit 0 lm rh 1 0x57 2 rh 2 0x57 2 rh 1 0x0C 2
equals "$OUT" "ok 1 1
ok 1 0
ok 0 0"
expect_exit 0 kwh meter show M1 --json
equals "$(json 'd["relay"]' <<<"$OUT")" off
equals "$(json 'd["relay"]' <<<"$(kwh meter show M2 --json)")" on
# ...and `kwh relay on`: the on words again.
expect_exit 0 kwh relay on M1 --wait 10
expect_exit 0 lm rh 1 0x57 2 rh 2 0x57 2
equals "$OUT" "ok 1 0
ok 1 0"
equals "$(json 'd["relay"]' <<<"$(kwh meter show M1 --json)")" on
stop_kwhd
stop_server

# The same site against --strict: a read that spans an unmapped register (0x000A, 0x000E..F,
# 0x0011..0x0056) is refused with exception 2. kwhd must still get every value, exactly.
start_server --units 2 --bands "$BANDS" --strict --listen "127.0.0.1:$SRV_PORT"
equals "$SRV_LINE" "libmodbus server: units 1-2 on 127.0.0.1:$SRV_PORT (strict)"
expect_exit 1 lm rh 1 0 17
equals "$OUT" "error Illegal data address"
expect_exit 0 lm rh 1 0 10
start=$(date +%s)
start_kwhd
for m in M1 M2; do
  wait_for 15 polled_since "$m" $((start + 2)) || { cat "$T/kwhd.err" >&2; fail "kwhd stored no reading of $m from the strict server"; }
done
expect_exit 0 kwh meter show M1 --json
equals "$(json '[d["last_reading"].get(k) for k in ("energy_total","energy_flat","voltage_a","current_a","power_total","power_factor")]' <<<"$OUT")" \
  "[766660, 700000, 230.1, 4.52, 1040, 0.98]"
equals "$(json 'd["status"]' <<<"$OUT")" online
expect_exit 0 kwh meter show M2 --json
equals "$(json 'd["last_reading"]["energy_total"]' <<<"$OUT")" 1533320
contains "$(cat "$T/kwhd.err")" "refused a read"
stop_kwhd
# The CLI's own read copes the same way.
expect_exit 0 kwh meter read M1 --direct --json
equals "$(json '[d.get(k) for k in ("energy_total","voltage_a","relay_status")]' <<<"$OUT")" "[766660, 230.1, 0]"
stop_server
