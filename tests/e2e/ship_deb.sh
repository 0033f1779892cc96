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

# postinst, with stand-ins for systemd's tools, creates the kwh user and its folders; it does
# nothing on other actions (abort-upgrade ...).
mkdir -p "$T/stubs"
for tool in systemd-sysusers systemd-tmpfiles systemctl; do
  printf '#!/bin/sh\necho "%s $*" >>"$STUB_LOG"\n' "$tool" >"$T/stubs/$tool"
  chmod +x "$T/stubs/$tool"
done
STUB_LOG=$T/stub.log PATH=$T/stubs:/usr/bin:/bin sh -e "$T/control/postinst" configure || fail "postinst configure failed"
grep -qx "systemd-sysusers kwh.conf" "$T/stub.log" || fail "postinst did not run systemd-sysusers kwh.conf"
grep -qx "systemd-tmpfiles --create kwh.conf" "$T/stub.log" || fail "postinst did not run systemd-tmpfiles"
rm -f "$T/stub.log"
STUB_LOG=$T/stub.log PATH=$T/stubs:/usr/bin:/bin sh -e "$T/control/postinst" abort-upgrade || fail "postinst abort-upgrade failed"
[ ! -s "$T/stub.log" ] || fail "postinst abort-upgrade ran: $(cat "$T/stub.log")"

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
