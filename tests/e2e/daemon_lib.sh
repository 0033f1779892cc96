# Helpers for kwhd's end-to-end tests (sourced after lib.sh): a simulator on free loopback
# ports, gateways and meters for it, and kwhd running against them.

# start_sim METERS GATEWAYS [ARGS...]: starts kwh sim on free ports; sets SIM_PID, SIM_PORT
# (the first gateway's port) and SIM_OUT (its standard output: the banner, and the summary of
# what it did once stopped, see stop_sim).
_sim_count=0
start_sim() {
  local meters=$1 gateways=$2; shift 2
  _sim_count=$((_sim_count + 1))
  SIM_OUT="$T/sim$_sim_count.out"
  "$KWH" sim --meters "$meters" --gateways "$gateways" --listen "127.0.0.1:${SIM_LISTEN_PORT:-0}" "$@" \
    >"$SIM_OUT" 2>"$T/sim$_sim_count.err" &
  SIM_PID=$!
  track $SIM_PID
  wait_for 10 grep -q '127.0.0.1:[0-9]' "$SIM_OUT" || { cat "$T/sim$_sim_count.err" >&2; fail "kwh sim did not start"; }
  SIM_PORT=$(grep -o '127.0.0.1:[0-9]*' "$SIM_OUT" | head -1 | cut -d: -f2)
}

# stop_sim PID OUT: stops a simulator, waits until it has exited, and sets SIM_SUMMARY to the
# last line it printed ("kwh sim: N requests; faults: ..."). Call it in this shell, not inside
# $(...): a subshell cannot wait for this shell's children, and would read OUT before the
# simulator had written its summary.
stop_sim() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  while kill -0 "$1" 2>/dev/null; do sleep 0.05; done
  SIM_SUMMARY=$(tail -n 1 "$2")
}

# fault_count SUMMARY WHAT: how many of WHAT ("late", "dropped", ...) the summary line names (0 if none).
fault_count() { printf '%s\n' "$1" | grep -o "[0-9]* $2" | head -1 | cut -d' ' -f1 | grep . || echo 0; }

# add_site GATEWAYS UNITS: gateways g1..gK on SIM_PORT.., meters M<g>_<u> on each.
add_site() {
  local g u
  for ((g = 1; g <= $1; g++)); do
    kwh gateway add "g$g" --tcp "127.0.0.1:$((SIM_PORT + g - 1))" --timeout-ms 300 >/dev/null
    for ((u = 1; u <= $2; u++)); do
      kwh meter add "M${g}_$u" --gateway "g$g" --unit "$u" --profile acrel-ddsy1352 >/dev/null
    done
  done
}

# write_config [EXTRA TOML...]: $T/kwh.toml with a 1 s interval.
write_config() {
  { printf '[poll]\ninterval = "1s"\ntimeout = "300ms"\nretries = 0\noffline_after = 2\n'; printf '%s\n' "$@"; } \
    >"$T/kwh.toml"
  chmod 644 "$T/kwh.toml"
}

# start_kwhd [ARGS...]: kwhd in the background with $T/kwh.toml; sets KWHD_PID, log in $T/kwhd.err.
start_kwhd() {
  "$KWHD" --config "$T/kwh.toml" "$@" 2>"$T/kwhd.err" &
  KWHD_PID=$!
  track $KWHD_PID
}

sql() { sqlite3 -cmd '.timeout 5000' "$KWH_DB" "$@"; }
# at_least N SQL: the query's single number is at least N.
at_least() { [ "$(sql "$2")" -ge "$1" ]; }

# is SQL VALUE: the query's result equals VALUE (for wait_for, which re-runs it).
is() { [ "$(sql "$1")" = "$2" ]; }

need_sqlite3() { command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"; }
