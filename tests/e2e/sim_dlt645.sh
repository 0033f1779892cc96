#!/usr/bin/env bash
# kwh sim --protocol dlt645: kwhd polls the simulator's DL/T 645-2007 meters (behind a raw TCP
# port, meter m at address 00000000000m) with the built-in acrel-dtsy1352-dlt645 profile. Checked:
# readings stored with the bands summing to the total and the energy growing; relay control
# done with status word 3 read back, the meter's energy then standing still while the others
# grow; a trip at the meter (the trip fault) is a relay_unexpected event; the simulator's
# --password is the one relay control needs; and the usage errors.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3

# A profile of the other protocol, RTU framing or a password for Modbus: one line, exit 64.
expect_exit 64 kwh sim --protocol dlt645 --profile acrel-ddsy1352
expect_one_line_error
contains "$ERR" "Modbus profile"
expect_exit 64 kwh sim --profile acrel-dtsy1352-dlt645
expect_one_line_error
contains "$ERR" "--protocol dlt645"
expect_exit 64 kwh sim --protocol dlt645 --rtu-over-tcp
expect_one_line_error
expect_exit 64 kwh sim --password 02000000
expect_one_line_error
expect_exit 64 kwh sim --protocol dlt645 --password 0200
expect_one_line_error
expect_exit 64 kwh sim --protocol iec62056
expect_one_line_error

# On the wire, with a client of our own (frames built here, not by lib/kwh/dlt645/): a bad
# frame is skipped without a reply and the good one after it answered; an address that is not
# there gets no reply; an identifier the meter does not have is an error reply, "no requested
# data" (02); and the drop and delay faults apply.
wire() { # PORT FRAME... (FRAME: ADDRESS:C:HEXDATA[:bad]); prints one line per reply: "C LATENCY_MS [ERROR]"
  /usr/bin/python3 - "$@" <<'PY'
import socket, sys, time
port, frames = int(sys.argv[1]), sys.argv[2:]
def frame(spec):
    parts = spec.split(":")
    addr, c, data = bytes.fromhex(parts[0])[::-1], int(parts[1], 16), bytes.fromhex(parts[2])
    body = bytes([0x68]) + addr + bytes([0x68, c, len(data)]) + bytes((d + 0x33) & 0xFF for d in data)
    cs = (sum(body) + (1 if parts[3:] == ["bad"] else 0)) & 0xFF
    return b"\xfe" * 4 + body + bytes([cs, 0x16])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"".join(frame(f) for f in frames))
start, buf = time.monotonic(), b""
s.settimeout(0.8) # quiet this long after the last byte: nothing more is coming
while True:
    try:
        chunk = s.recv(1024)
    except socket.timeout:
        break
    if not chunk:
        break
    buf += chunk
    while 0x68 in buf and len(buf) >= buf.index(0x68) + 12:
        i = buf.index(0x68)
        n = buf[i + 9]
        if len(buf) < i + 12 + n:
            break
        f, buf = buf[i:i + 12 + n], buf[i + 12 + n:]
        addr = f[1:7][::-1].hex()
        data = bytes((d - 0x33) & 0xFF for d in f[10:10 + n])
        err = f" {data[0]:02X}" if f[8] & 0x40 else ""
        print(f"{f[8]:02X} {addr} {int((time.monotonic() - start) * 1000)}{err}")
PY
}
start_sim 3 1 --protocol dlt645
# Read energy_total (DI 00010000, sent 00 00 01 00) of meter 1 after a frame with a bad checksum.
equals "$(wire "$SIM_PORT" 000000000002:11:00000100:bad 000000000001:11:00000100 | cut -d' ' -f1-2)" "91 000000000001"
equals "$(wire "$SIM_PORT" 000000000009:11:00000100)" ""
equals "$(wire "$SIM_PORT" 000000000003:11:00029000 | cut -d' ' -f1-2,4)" "D1 000000000003 02"
stop_sim "$SIM_PID" "$SIM_OUT"
start_sim 3 1 --protocol dlt645 --faults drop=1
equals "$(wire "$SIM_PORT" 000000000001:11:00000100)" ""
stop_sim "$SIM_PID" "$SIM_OUT"
equals "$(fault_count "$SIM_SUMMARY" dropped)" 1
start_sim 3 1 --protocol dlt645 --faults delay=400ms
r=$(wire "$SIM_PORT" 000000000001:11:00000100)
[ "$(cut -d' ' -f3 <<<"$r")" -ge 390 ] 2>/dev/null || fail "expected a reply after 400 ms: '$r'"
stop_sim "$SIM_PID" "$SIM_OUT"

kwh init >/dev/null
# The site first, on a port picked now, so that kwhd polls from the simulator's first second
# (it must see M1 closed before the trip at 4 s).
PORT=$(free_port)
kwh gateway add g --dlt645-tcp "127.0.0.1:$PORT" --password 02123456 --timeout-ms 500 >/dev/null
kwh gateway add bad --dlt645-tcp "127.0.0.1:$PORT" --password 02999999 --timeout-ms 500 >/dev/null
kwh meter add M1 --gateway g --address 000000000001 --profile acrel-dtsy1352-dlt645 >/dev/null
kwh meter add M2 --gateway g --address 000000000002 --profile acrel-dtsy1352-dlt645 >/dev/null
kwh meter add M3 --gateway bad --address 000000000003 --profile acrel-dtsy1352-dlt645 >/dev/null
# 3600x: an hour of load each second, far above what kwhd takes as plausible by default.
write_config '[billing]' 'max_power_w = 100000000'
SIM_LISTEN_PORT=$PORT start_sim 3 1 --protocol dlt645 --speed 3600 --password 02123456 --faults trip=1@4s
contains "$(head -1 "$SIM_OUT")" "kwh sim: 3 meters on 127.0.0.1:$PORT (acrel-dtsy1352-dlt645, dlt645, speed 3600"
start_kwhd
diag() { sql "SELECT * FROM events; SELECT * FROM commands" >&2; cat "$T/kwhd.err" >&2; cat "$SIM_OUT" >&2; }

count() { echo "SELECT count(*) FROM readings WHERE meter_id = (SELECT id FROM meters WHERE name = '$1')"; }
for m in M1 M2 M3; do
  wait_for 10 at_least 2 "$(count $m)" || { diag; fail "kwhd read nothing from $m"; }
done
energy() { kwh meter show "$1" --json | json 'd["last_reading"]["energy_total"]'; }

expect_exit 0 kwh meter show M3 --json
# Each identifier is its own request, and at 3600x the load adds about 2 Wh per real millisecond
# between them: the total and the sum of the bands agree to within a second of real time.
equals "$(json 'abs(d["last_reading"]["energy_total"] - sum(d["last_reading"]["energy_" + b] for b in ("sharp","peak","flat","valley"))) <= 2000 < d["last_reading"]["energy_total"]' <<<"$OUT")" True
equals "$(json 'd["last_reading"]["energy_total"] % 10' <<<"$OUT")" 0 # 0.01 kWh steps, exact Wh
equals "$(json '228 <= d["last_reading"]["voltage_a"] <= 232' <<<"$OUT")" True
equals "$(json '1500 < d["last_reading"]["power_total"] < 2500' <<<"$OUT")" True
equals "$(json 'd["relay_reported"]' <<<"$OUT")" on
equals "$(json 'd["address"]' <<<"$OUT")" 000000000003
equals "$(json 'd["status"]' <<<"$OUT")" online
# At 3600x an hour of load goes by each second: the energy grows from one poll to the next.
e3=$(energy M3)
n=$(sql "$(count M3)")
wait_for 10 at_least $((n + 2)) "$(count M3)" || { diag; fail "kwhd stopped reading M3"; }
[ "$(energy M3)" -gt "$e3" ] || { diag; fail "M3's energy did not grow"; }

# Relay control 1C: done once status word 3 says open; then M2's energy stands still.
expect_exit 0 kwh relay off M2 --wait 5
equals "$(sql "SELECT state || ' ' || readback FROM commands WHERE action = 'relay_off'")" "done off"
n=$(sql "$(count M2)")
wait_for 10 at_least $((n + 1)) "$(count M2)" || { diag; fail "kwhd stopped reading M2"; }
e2=$(energy M2)
e3=$(energy M3)
n=$(sql "$(count M2)")
wait_for 10 at_least $((n + 2)) "$(count M2)" || { diag; fail "kwhd stopped reading M2"; }
equals "$(energy M2)" "$e2"
[ "$(energy M3)" -gt "$e3" ] || { diag; fail "M3's energy did not grow while M2 was off"; }
equals "$(kwh meter show M2 --json | json 'd["relay_reported"]')" off

# M1 trips at the meter 4 s after the simulator started: an event, and kwh's record follows.
wait_for 15 is "SELECT relay_state FROM meters WHERE name = 'M1'" off || { diag; fail "the trip at the meter was not seen"; }
equals "$(sql "SELECT detail FROM events WHERE kind = 'relay_unexpected'")" \
  "meter M1: the relay opened at the meter without a command (kwh had it on)"

# Gateway "bad" has another password than the simulator's: the meter refuses, in words, and M3 stays on.
id=$(sql "INSERT INTO commands(meter_id, action, reason, created, not_before)
          SELECT id, 'relay_off', 'operator', strftime('%s','now'), strftime('%s','now') FROM meters WHERE name = 'M3'
          RETURNING id")
wait_for 10 is "SELECT last_error IS NOT NULL FROM commands WHERE id = $id" 1 || { diag; fail "the refused command was not tried"; }
contains "$(sql "SELECT last_error FROM commands WHERE id = $id")" "wrong password or not authorised"
equals "$(kwh meter show M3 --json | json 'd["relay_reported"]')" on

kill -TERM "$KWHD_PID"; wait "$KWHD_PID" || fail "kwhd did not exit 0"
stop_sim "$SIM_PID" "$SIM_OUT"
contains "$SIM_SUMMARY" "kwh sim: "
[ "$(printf '%s\n' "$SIM_SUMMARY" | grep -o '[0-9]* requests' | cut -d' ' -f1)" -gt 50 ] || fail "few requests: $SIM_SUMMARY"
