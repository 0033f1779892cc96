#!/usr/bin/env bash
# The suite passes wherever the clone lives. A newcomer clones into root's home (0700), where
# other OS users cannot enter, and mktemp -d folders are 0700 too. This copies the built kwh and
# kwhd and the tests into a 0700 folder, sets TMPDIR to a 0700 folder inside it, and runs there
# the tests that run kwh as other users: the roles with real OS users (audit_roles) and kwh
# serve as nobody (web_serve). Each must pass, as it does from an open folder.
source "$KWH_SOURCE/tests/e2e/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root: the tests it runs act as other OS users"

home=$T/home
mkdir -m 0700 "$home"
mkdir -p "$home/clone/build" "$home/clone/tests" "$home/tmp"
chmod 0700 "$home/tmp"
cp -r "$KWH_SOURCE/tests/e2e" "$home/clone/tests/"
cp -r "$KWH_SOURCE/examples" "$home/clone/"
cp "$KWH" "$home/clone/build/kwh"
cp "$KWHD" "$home/clone/build/kwhd"
# Nobody else can enter it, or anything in it.
for u in nobody; do
  if command -v setpriv >/dev/null &&
    setpriv --reuid="$u" --regid=nogroup --clear-groups test -x "$home/clone/build/kwh"; then
    fail "$u can run $home/clone/build/kwh: the folder is not private"
  fi
done

for test in audit_roles web_serve; do
  rc=0
  env KWH="$home/clone/build/kwh" KWHD="$home/clone/build/kwhd" KWH_SOURCE="$home/clone" \
    KWH_BUILD="$home/clone/build" TMPDIR="$home/tmp" \
    bash "$home/clone/tests/e2e/$test.sh" >"$T/$test.out" 2>"$T/$test.err" || rc=$?
  case $rc in
    0) ;;
    125) cat "$T/$test.err" >&2; skip "$test skipped from a private folder" ;;
    *) tail -n 30 "$T/$test.err" >&2; fail "$test failed (exit $rc) when run from a 0700 folder" ;;
  esac
done
# They cleaned up after themselves.
[ -z "$(ls -A "$home/tmp")" ] || fail "left behind in TMPDIR: $(ls -A "$home/tmp")"
echo ok
