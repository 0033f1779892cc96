# Shared helpers for end-to-end tests. Each test sources this, gets its own temporary
# directory ($T) and database ($KWH_DB), and runs the real binaries ($KWH, $KWHD).
set -euo pipefail

: "${KWH:?KWH must name the kwh binary}"
: "${KWHD:?KWHD must name the kwhd binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/kwh-e2e.XXXXXX")
export KWH_DB="$T/kwh.db"
unset KWH_CONFIG
export NO_COLOR=1
_kwh_pids=()
_kwh_dirs=()
cleanup() {
  local rc=$?
  # A tracked `kwh ... &` is a subshell running the kwh() function: stop its child too.
  for p in "${_kwh_pids[@]:-}"; do
    [ -n "$p" ] || continue
    pkill -TERM -P "$p" 2>/dev/null || true
    kill "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$T" "${_kwh_dirs[@]}"
  exit $rc
}
trap cleanup EXIT

kwh() { "$KWH" "$@"; }
kwhd() { "$KWHD" "$@"; }

# enterable_dir: sets U to a folder other OS users can enter, for what a test runs as them (a
# copy of kwh, a site): $T when every folder above it lets others through, else a folder of the
# test's own under /tmp (removed at exit), so that a clone or a TMPDIR in a private home (root's
# is 0700, as is a mktemp -d folder) works as well as an open one.
enterable_dir() {
  local d=$T
  while d=$(dirname "$d"); [ "$d" != / ]; do
    [[ $(stat -L -c %A "$d") == ?????????[xt] ]] || break
  done
  if [ "$d" = / ]; then
    U=$T
  else
    U=$(mktemp -d /tmp/kwh-e2e-users.XXXXXX)
    _kwh_dirs+=("$U")
  fi
  chmod 0711 "$U"
}

# Remember a background process so that it is stopped when the test ends.
track() { _kwh_pids+=("$1"); }

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 125; }

# expect_exit CODE CMD...: runs CMD, checks its exit code; stdout in $OUT, stderr in $ERR.
expect_exit() {
  local want=$1; shift
  local rc=0
  "$@" >"$T/.out" 2>"$T/.err" || rc=$?
  OUT=$(cat "$T/.out"); ERR=$(cat "$T/.err")
  if [ "$rc" != "$want" ]; then
    echo "command: $*" >&2; echo "stdout: $OUT" >&2; echo "stderr: $ERR" >&2
    fail "expected exit $want, got $rc"
  fi
}

# The error must be exactly one line on stderr.
expect_one_line_error() {
  [ -n "$ERR" ] || fail "expected an error message on stderr"
  [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] || fail "expected one line on stderr, got: $ERR"
}

contains() { case "$1" in *"$2"*) ;; *) fail "expected '$2' in: $1" ;; esac; }
not_contains() { case "$1" in *"$2"*) fail "did not expect '$2' in: $1" ;; *) ;; esac; }
equals() { [ "$1" = "$2" ] || fail "expected '$2', got '$1'"; }

# A free TCP port on loopback.
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_for SECONDS CMD...: retries CMD until it succeeds or time runs out.
wait_for() {
  local secs=$1; shift
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.1
  done
}

# json FIELD-EXPRESSION: reads JSON on stdin and prints a Python expression over it as `d`.
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); v=($1); print(v if not isinstance(v,(dict,list)) else json.dumps(v))"; }
