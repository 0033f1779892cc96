# The Debian package: `cpack -G DEB` from the build (it packs the binaries already built),
# then unpacked with dpkg -x, holds every file an install holds, with the control fields and
# maintainer scripts a Debian system needs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ship_lib.sh"
for tool in cpack dpkg-deb dpkg-shlibdeps dpkg; do
  command -v $tool >/dev/null || skip "$tool is not installed (dpkg-dev)"
done
[ -f "$KWH_BUILD/CPackConfig.cmake" ] || fail "no CPackConfig.cmake in $KWH_BUILD"

cd "$T"
cpack -G DEB --config "$KWH_BUILD/CPackConfig.cmake" -B "$T/pkg" >"$T/cpack.log" 2>&1 ||
  { cat "$T/cpack.log" >&2; fail "cpack -G DEB failed"; }
deb=$(ls "$T"/pkg/kwh_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { cat "$T/cpack.log" >&2; fail "cpack made no kwh_*.deb"; }

# Control fields.
info=$(dpkg-deb -f "$deb")
contains "$info" "Package: kwh"
contains "$info" "Section: admin"
contains "$info" "Maintainer: "
contains "$info" "Architecture: $(dpkg --print-architecture)"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libsqlite3 libstdc++6 libxlsxwriter4; do contains "$depends" "$lib"; done
description=$(dpkg-deb -f "$deb" Description)
contains "$description" "prepaid energy management"
# The synopsis line, then an extended description that does not repeat it.
[ "$(sed -n 2p <<<"$description")" != " $(sed -n 1p <<<"$description")" ] || fail "the description repeats its synopsis"
contains "$(sed -n 2p <<<"$description")" "kwh makes the tenants"

# Maintainer scripts: postinst makes the kwh user and folders.
dpkg-deb -e "$deb" "$T/control"
for s in postinst prerm postrm; do [ -x "$T/control/$s" ] || fail "the package has no executable $s"; done
grep -q 'systemd-sysusers kwh.conf' "$T/control/postinst" || fail "postinst does not run systemd-sysusers"
grep -q 'systemd-tmpfiles --create kwh.conf' "$T/control/postinst" || fail "postinst does not run systemd-tmpfiles"

# The maintainer scripts, with stand-ins for systemd's tools and for deb-systemd-helper and
# deb-systemd-invoke (init-system-helpers). The stand-in deb-systemd-helper answers "yes" to
# debian-installed and was-enabled when STUB_ENABLED is set (an upgrade of a unit the
# administrator enabled), "no" otherwise (a first install).
mkdir -p "$T/stubs"
for tool in systemd-sysusers systemd-tmpfiles systemctl deb-systemd-helper deb-systemd-invoke; do
  printf '#!/bin/sh\necho "%s $*" >>"$STUB_LOG"\n' "$tool" >"$T/stubs/$tool"
  chmod +x "$T/stubs/$tool"
done
printf 'case "$*" in *debian-installed*|*was-enabled*) [ -n "${STUB_ENABLED:-}" ] ;; esac\n' >>"$T/stubs/deb-systemd-helper"
# run_script SCRIPT ARGS...: runs the packaged maintainer script with the stand-ins; what they
# were asked to do is in $T/stub.log. With SYSTEMD=yes the script finds systemd running (its
# /run/systemd/system is $T/run/systemd/system).
run_script() {
  local script=$1; shift
  mkdir -p "$T/scripts"
  sed "s|/run/systemd/system|$T/run/systemd/system|g" "$T/control/$script" >"$T/scripts/$script"
  rm -rf "$T/run" "$T/stub.log"
  [ "${SYSTEMD:-no}" = no ] || mkdir -p "$T/run/systemd/system"
  touch "$T/stub.log"
  STUB_LOG=$T/stub.log PATH=$T/stubs:/usr/bin:/bin sh -e "$T/scripts/$script" "$@" ||
    fail "$script $* failed"
  LOG=$(cat "$T/stub.log")
}
logged() { grep -qxF "$1" "$T/stub.log" || fail "expected '$1' from $CASE, got: $LOG"; }
nothing_logged() { [ ! -s "$T/stub.log" ] || fail "$CASE ran: $LOG"; }

# postinst configure, as packaged, creates the kwh user and its folders.
rm -f "$T/stub.log"
STUB_LOG=$T/stub.log PATH=$T/stubs:/usr/bin:/bin sh -e "$T/control/postinst" configure || fail "postinst configure failed"
grep -qx "systemd-sysusers kwh.conf" "$T/stub.log" || fail "postinst did not run systemd-sysusers kwh.conf"
grep -qx "systemd-tmpfiles --create kwh.conf" "$T/stub.log" || fail "postinst did not run systemd-tmpfiles"
rm -f "$T/stub.log"
STUB_LOG=$T/stub.log PATH=$T/stubs:/usr/bin:/bin sh -e "$T/control/postinst" abort-upgrade || fail "postinst abort-upgrade failed"
[ ! -s "$T/stub.log" ] || fail "postinst abort-upgrade ran: $(cat "$T/stub.log")"

# A first install records the units for purge but enables and starts neither, and reloads
# systemd when it runs.
CASE="postinst configure (first install)"
SYSTEMD=yes run_script postinst configure
logged "systemd-sysusers kwh.conf"
logged "systemd-tmpfiles --create kwh.conf"
logged "deb-systemd-helper update-state kwhd.service"
logged "deb-systemd-helper update-state kwh-serve.service"
logged "systemctl --system daemon-reload"
not_contains "$LOG" "deb-systemd-helper enable"
not_contains "$LOG" "deb-systemd-invoke"
CASE="postinst configure (without systemd)"
run_script postinst configure
logged "deb-systemd-helper update-state kwhd.service"
not_contains "$LOG" "systemctl"
# An upgrade keeps a unit the administrator enabled enabled, and restarts nothing: the new
# version may need `kwh init` first.
CASE="postinst configure (upgrade, units enabled)"
SYSTEMD=yes STUB_ENABLED=1 run_script postinst configure 0.0.9
logged "deb-systemd-helper enable kwhd.service"
logged "deb-systemd-helper enable kwh-serve.service"
logged "deb-systemd-helper update-state kwhd.service"
not_contains "$LOG" "deb-systemd-invoke"
for action in abort-upgrade abort-remove abort-deconfigure; do
  CASE="postinst $action"
  SYSTEMD=yes run_script postinst $action 0.1.0
  nothing_logged
done

# prerm stops both services when the package is removed (not on upgrade, not when dpkg works
# on another root), through deb-systemd-invoke.
CASE="prerm remove"
SYSTEMD=yes run_script prerm remove
logged "deb-systemd-invoke stop kwh-serve.service kwhd.service"
for args in "remove:without systemd" "upgrade 0.2.0:" "failed-upgrade 0.2.0:" "deconfigure:"; do
  CASE="prerm ${args%%:*}"
  if [ "${args#*:}" = "without systemd" ]; then
    run_script prerm ${args%%:*}
  else
    SYSTEMD=yes run_script prerm ${args%%:*}
  fi
  nothing_logged
done
CASE="prerm remove (DPKG_ROOT)"
DPKG_ROOT=$T/root SYSTEMD=yes run_script prerm remove
nothing_logged

# postrm reloads systemd on remove, and purge removes the links of units the administrator
# enabled; the database and the kwh user stay.
CASE="postrm remove"
SYSTEMD=yes run_script postrm remove
logged "systemctl --system daemon-reload"
not_contains "$LOG" "deb-systemd-helper"
CASE="postrm purge"
SYSTEMD=yes run_script postrm purge
logged "deb-systemd-helper purge kwhd.service kwh-serve.service"
not_contains "$LOG" "userdel"
for action in upgrade failed-upgrade abort-install abort-upgrade disappear; do
  CASE="postrm $action"
  SYSTEMD=yes run_script postrm $action 0.1.0
  nothing_logged
done
# systemctl is only asked to reload: units are started and stopped by deb-systemd-invoke,
# which respects policy-rc.d.
for s in postinst prerm postrm; do
  bad=$(grep -n 'systemctl' "$T/control/$s" | grep -v 'systemctl --system daemon-reload' | grep -v '^[0-9]*: *#') || true
  [ -z "$bad" ] || fail "$s calls systemctl for more than daemon-reload: $bad"
done

# Contents.
dpkg -x "$deb" "$T/debroot"
check_tree "$T/debroot" "the .deb"
grep -qx 'ExecStart=/usr/bin/kwhd' "$T/debroot/usr/lib/systemd/system/kwhd.service" ||
  fail "the packaged unit does not start /usr/bin/kwhd"
expect_exit 0 "$T/debroot/usr/bin/kwh" --version
contains "$OUT" "kwh "
# Binaries are stripped in the package.
if command -v file >/dev/null; then
  file "$T/debroot/usr/bin/kwhd" | grep -q "not stripped" && fail "kwhd is not stripped in the package"
fi
# Nothing outside /usr (configuration is made by tmpfiles.d, the database by `kwh init`).
extra=$(cd "$T/debroot" && find . -mindepth 1 -maxdepth 1 ! -name usr)
[ -z "$extra" ] || fail "the package installs outside /usr: $extra"

echo ok
