#!/usr/bin/env bash
# kwh sim read and switched by a client built on libmodbus (kwh-libmodbus-client, see
# tests/e2e/peers/libmodbus_client.c), a Modbus stack kwh did not write: the energy registers
# hold what the acrel-ddsy1352 profile encodes (u32, high word first, 0.01 kWh), the bands sum
# to the total, energy grows, the relay control pair reads 1 0 and a function-16 write of 1 1
# stops the energy; an unmapped address, a table the profile does not use and bad relay words
# are the exceptions a meter gives; a unit that is not there is exception 11 on TCP and silence
# on RTU (through a socat pty; without socat the test says so and is skipped after the TCP
# part). Our own client reads the same words.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sim_lib.sh"
LM="$KWH_BUILD/kwh-libmodbus-client"
[ -x "$LM" ] || fail "kwh-libmodbus-client is not built ($LM): build the tree (it needs libmodbus, which kwh needs too)"
[ -x "$CLIENT" ] || fail "kwh-modbus-client is not built ($CLIENT)"

start_sim --meters 3 --speed 3600
contains "$BANNER" "kwh sim: 3 meters on 127.0.0.1:$P (acrel-ddsy1352, speed 3600)"
lm() { "$LM" --tcp "127.0.0.1:$P" "$@"; }

# energy UNIT: energy_total in register units (10 Wh), checking that it is the sum of the bands.
energy() {
  local out w
  out=$(lm rh "$1" 0 10) || fail "libmodbus read of unit $1 failed: $out"
  read -r -a w <<<"${out#ok }"
  [ "${out%% *}" = ok ] && [ "${#w[@]}" = 10 ] || fail "expected ok and 10 words from unit $1, got: $out"
  local total=$(( w[0] * 65536 + w[1] ))
  local bands=$(( w[2] * 65536 + w[3] + w[4] * 65536 + w[5] + w[6] * 65536 + w[7] + w[8] * 65536 + w[9] ))
  [ "$total" = "$bands" ] || fail "unit $1: total $total is not the sum of the bands $bands (words ${w[*]})"
  echo "$total"
}

# The relay's control pair at 0x0057: 0001 0000 while closed.
expect_exit 0 lm rh 2 0x57 2
equals "$OUT" "ok 1 0"

# The energy registers decode, and grow: at speed 3600 a second is an hour, and the load is
# 1600..2400 W (2000 W ± 20 %): 160..240 register units a second.
e1=$(energy 2); t1=$(date +%s.%N)
[ "$e1" -gt 10000 ] || fail "a simulated meter starts with some energy on it, got $e1"
sleep 1.5
e2=$(energy 2); t2=$(date +%s.%N)
rate=$(/usr/bin/python3 -c "print(int(($e2 - $e1) / ($t2 - $t1)))")
[ "$rate" -ge 140 ] && [ "$rate" -le 260 ] || fail "energy grew $rate units/s, expected 160..240"

# Several requests on one libmodbus connection: the other registers of the profile.
expect_exit 0 lm rh 2 0x0B 3 rh 2 0x10 1
[ "$(sed -n 1p <<<"$OUT" | wc -w)" = 4 ] || fail "expected 3 words: $OUT"
read -r _ volt _ power <<<"$(sed -n 1p <<<"$OUT")"
[ "$volt" -ge 2250 ] && [ "$volt" -le 2350 ] || fail "voltage_a $volt is not about 230.0 V in 0.1 V"
[ "$power" -ge 1500 ] && [ "$power" -le 2500 ] || fail "power_total $power W is not the 2000 W ± 20 % load"
equals "$(sed -n 2p <<<"$OUT")" "ok 980"                        # power factor 0.98 while closed

# libmodbus trips the relay with function 16 (modbus_write_registers), the profile's off words.
expect_exit 0 lm wh 2 0x57 1 1
equals "$OUT" "ok"
expect_exit 0 lm rh 2 0x57 2
equals "$OUT" "ok 1 1"
e3=$(energy 2); u3=$(energy 3)
sleep 1
e4=$(energy 2); u4=$(energy 3)
equals "$e4" "$e3"                                               # tripped: no energy
[ "$u4" -gt "$u3" ] || fail "meter 3's relay is still closed, its energy must grow ($u3 then $u4)"

# Word for word, libmodbus and kwh's own client read the same registers of the meter that
# stands still: 0x0000..0x0010 with its gaps, but for the voltage (0x000B), which the
# simulator varies with time, and the relay pair.
expect_exit 0 lm rh 2 0 11 rh 2 0x0C 5 rh 2 0x57 2
lm_out=$OUT
expect_exit 0 "$CLIENT" --kind tcp --address "127.0.0.1:$P" rh 2 0 11 rh 2 0x0C 5 rh 2 0x57 2
equals "$OUT" "$lm_out"
contains "$lm_out" "ok 1 1"

# Exceptions, as libmodbus names them. An address far from the profile's registers: exception 2.
expect_exit 1 lm rh 2 0x1000 2
equals "$OUT" "error Illegal data address"
# The profile has no input registers and no coils: exception 2 as well.
expect_exit 1 lm ri 2 0 2
equals "$OUT" "error Illegal data address"
expect_exit 1 lm rc 2 0 1
equals "$OUT" "error Illegal data address"
# Words at the relay pair that are neither the on nor the off words: exception 3.
expect_exit 1 lm wh 2 0x57 2 2
equals "$OUT" "error Illegal data value"
# Function 6 cannot switch this relay (one word is neither pair): exception 3 as well.
expect_exit 1 lm wr 2 0x57 1
equals "$OUT" "error Illegal data value"
# A coil that is no setting of the profile: exception 2.
expect_exit 1 lm wc 2 0 1
equals "$OUT" "error Illegal data address"
# A unit the gateway does not have: exception 11, gateway target device failed to respond.
expect_exit 1 lm rh 9 0 2
equals "$OUT" "error Target device failed to respond"
# None of that changed the relay, and the connection is still good after an exception.
expect_exit 1 lm rh 2 0x1000 1 rh 2 0x57 2
equals "$OUT" "error Illegal data address"
expect_exit 0 lm rh 2 0x57 2
equals "$OUT" "ok 1 1"

# Closing the relay again with libmodbus: energy grows again.
expect_exit 0 lm wh 2 0x57 1 0
sleep 0.5
[ "$(energy 2)" -gt "$e4" ] || fail "energy did not grow after the relay closed"
expect_exit 0 lm rh 2 0x57 2
equals "$OUT" "ok 1 0"
stop_sim TERM

# Modbus RTU (modbus_new_rtu) on a serial port: socat joins a pty to kwh sim framing RTU on TCP.
command -v socat >/dev/null ||
  skip "socat is not installed: the RTU part (libmodbus over a pty) cannot run; the TCP part above passed"
start_sim --meters 2 --rtu-over-tcp --speed 3600
socat "pty,raw,echo=0,link=$T/tty" "tcp:127.0.0.1:$P" 2>"$T/socat.log" &
track $!
wait_for 10 test -e "$T/tty" || fail "socat made no pty"
rtu() { "$LM" --rtu "$T/tty" 9600 E "$@"; }
expect_exit 0 rtu rh 1 0 10 rh 1 0x57 2 wh 1 0x57 1 1 rh 1 0x57 2
read -r -a w <<<"$(sed -n 1p <<<"$OUT" | cut -d' ' -f2-)"
[ "${#w[@]}" = 10 ] || fail "expected 10 words over RTU: $OUT"
[ $(( w[0] * 65536 + w[1] )) = $(( w[2] * 65536 + w[3] + w[4] * 65536 + w[5] + w[6] * 65536 + w[7] + w[8] * 65536 + w[9] )) ] ||
  fail "over RTU the total is not the sum of the bands: $OUT"
equals "$(sed -n 2,4p <<<"$OUT" | paste -sd'|')" "ok 1 0|ok|ok 1 1"
# On a serial bus a unit that is not there is silent: a timeout (exit 3), and the bus is fine after.
expect_exit 3 rtu --timeout 0.3 rh 7 0 2
contains "$OUT" "error Connection timed out"
expect_exit 0 rtu rh 1 0x57 2
equals "$OUT" "ok 1 1"
stop_sim TERM
