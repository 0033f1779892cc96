#!/usr/bin/env bash
# kwh sim read by a client we did not write (Debian's mbpoll): the energy registers hold what
# the acrel-ddsy1352 profile encodes (u32, high word first, 0.01 kWh), the bands sum to the
# total, energy grows with the load, and stops once mbpoll writes the relay's off words.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/sim_lib.sh"
command -v mbpoll >/dev/null || skip "mbpoll not installed"

start_sim --meters 3 --speed 3600
contains "$BANNER" "kwh sim: 3 meters on 127.0.0.1:$P (acrel-ddsy1352, speed 3600)"

# words UNIT REF COUNT: holding registers as unsigned words, one line (mbpoll's -r is 1-based).
words() {
  mbpoll -m tcp -a "$1" -r "$2" -c "$3" -t 4 -1 -p "$P" 127.0.0.1 | sed -n 's/^\[[0-9]*\]:[[:space:]]*\([0-9]*\).*/\1/p' | paste -sd' '
}
# energy UNIT: energy_total in register units (10 Wh); also checks it is the sum of the bands.
energy() {
  local w; read -r -a w <<<"$(words "$1" 1 10)"
  [ "${#w[@]}" = 10 ] || fail "expected 10 words from unit $1, got: ${w[*]}"
  local total=$(( w[0] * 65536 + w[1] ))
  local bands=$(( w[2] * 65536 + w[3] + w[4] * 65536 + w[5] + w[6] * 65536 + w[7] + w[8] * 65536 + w[9] ))
  [ "$total" = "$bands" ] || fail "unit $1: total $total is not the sum of the bands $bands"
  echo "$total"
}

equals "$(words 2 88 2)" "1 0"                 # relay closed: the profile's on words
e1=$(energy 2); t1=$(date +%s.%N)
[ "$e1" -gt 10000 ] || fail "a simulated meter starts with some energy on it, got $e1"
sleep 1.5
e2=$(energy 2); t2=$(date +%s.%N)
# At speed 3600 a second is an hour: 1600..2400 W (2000 W ± 20 %) gives 160..240 units a second.
rate=$(/usr/bin/python3 -c "print(int(($e2 - $e1) / ($t2 - $t1)))")
[ "$rate" -ge 140 ] && [ "$rate" -le 260 ] || fail "energy grew $rate units/s, expected 160..240"

# mbpoll writes the relay's off words (0x0057 = 87, mbpoll reference 88) with function 16.
mbpoll -m tcp -a 2 -r 88 -t 4 -p "$P" 127.0.0.1 1 1 >"$T/write.out" 2>&1 || fail "mbpoll write failed: $(cat "$T/write.out")"
equals "$(words 2 88 2)" "1 1"
e3=$(energy 2); u3=$(energy 3)
sleep 1
e4=$(energy 2); u4=$(energy 3)
equals "$e4" "$e3"                              # relay open: no energy
[ "$u4" -gt "$u3" ] || fail "meter 3's relay is still closed, its energy must grow"

# Our own client reads the same words as mbpoll from the meter that stands still.
expect_exit 0 "$CLIENT" --kind tcp --address "127.0.0.1:$P" rh 2 0 10
equals "$OUT" "ok $(words 2 1 10)"

# Closing the relay again: energy grows again.
mbpoll -m tcp -a 2 -r 88 -t 4 -p "$P" 127.0.0.1 1 0 >/dev/null 2>&1 || fail "mbpoll write failed"
sleep 0.5
[ "$(energy 2)" -gt "$e4" ] || fail "energy did not grow after the relay closed"

stop_sim TERM
