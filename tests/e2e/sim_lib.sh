# Shared by the simulator's end-to-end tests (sourced after lib.sh).
CLIENT="$KWH_BUILD/kwh-modbus-client"
_sim_n=0

# start_sim ARGS...: starts `kwh sim --listen 127.0.0.1:0 ARGS...`, waits for its line, and sets
# SIM (pid), BANNER and P (the first port).
start_sim() {
  _sim_n=$((_sim_n + 1))
  "$KWH" sim --listen 127.0.0.1:0 "$@" >"$T/sim$_sim_n.out" 2>"$T/sim$_sim_n.err" &
  SIM=$!
  track $SIM
  wait_for 10 grep -q "kwh sim:" "$T/sim$_sim_n.out" || { cat "$T/sim$_sim_n.err" >&2; fail "kwh sim did not start"; }
  BANNER=$(head -1 "$T/sim$_sim_n.out")
  P=$(sed -E 's/.*127\.0\.0\.1:([0-9]+).*/\1/' <<<"$BANNER")
}

# stop_sim [SIGNAL]: it must exit 0, promptly.
stop_sim() {
  kill -"${1:-TERM}" "$SIM"
  local rc=0
  wait "$SIM" || rc=$?
  [ "$rc" = 0 ] || fail "kwh sim exited $rc on SIG${1:-TERM}"
}
