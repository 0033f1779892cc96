# The systemd unit, as installed, passes `systemd-analyze verify` without a single warning
# (including its Documentation= man pages, found in the staged install), keeps its hardening,
# and the sysusers.d and tmpfiles.d snippets create the kwh user and its folders.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ship_lib.sh"

root=$T/root
stage_install "$root"
unit=$root/usr/lib/systemd/system/kwhd.service

# What the unit must say (kwhd(8), docs/contract.md "The daemon").
for line in Type=notify ExecStart=/usr/bin/kwhd 'ExecReload=/bin/kill -HUP $MAINPID' WatchdogSec=30 \
  Restart=on-failure User=kwh Group=kwh SupplementaryGroups=dialout NoNewPrivileges=yes \
  ProtectSystem=strict ReadWritePaths=/var/lib/kwh StateDirectory=kwh PrivateTmp=yes ProtectHome=yes \
  PrivateDevices=no DevicePolicy=closed 'DeviceAllow=char-ttyS rw' 'DeviceAllow=char-ttyUSB rw' \
  ProtectKernelTunables=yes ProtectKernelModules=yes ProtectKernelLogs=yes ProtectControlGroups=yes \
  'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' RestrictNamespaces=yes LockPersonality=yes \
  MemoryDenyWriteExecute=yes RestrictRealtime=yes SystemCallArchitectures=native CapabilityBoundingSet= \
  'Documentation=man:kwhd(8) man:kwh.toml(5) man:kwh(1)'; do
  grep -qxF -- "$line" "$unit" || fail "kwhd.service lacks: $line"
done

command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
# Can systemd-analyze run here at all (it may not in some containers)?
printf '[Service]\nExecStart=/bin/true\n' >"$T/probe.service"
systemd-analyze verify "$T/probe.service" >/dev/null 2>&1 || skip "systemd-analyze verify cannot run here"

# verify needs ExecStart to exist: a copy of the unit starts the staged kwhd.
mkdir -p "$T/units"
sed "s|=/usr/bin/kwhd|=$root/usr/bin/kwhd|" "$unit" >"$T/units/kwhd.service"
out=$(MANPATH=$root/usr/share/man systemd-analyze verify "$T/units/kwhd.service" 2>&1) ||
  fail "systemd-analyze verify failed: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"

# The hardening, as systemd scores it (0 best, 10 worst); --offline appeared in systemd 250.
if out=$(systemd-analyze security --offline=yes "$T/units/kwhd.service" 2>/dev/null); then
  level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for kwhd.service: \([0-9.]*\).*/\1/p')
  [ -n "$level" ] || fail "no exposure level from systemd-analyze security"
  awk -v l="$level" 'BEGIN { exit !(l <= 2.5) }' || fail "kwhd.service exposure level $level (> 2.5)"
fi

# sysusers.d makes the kwh user and group, in dialout; tmpfiles.d makes /var/lib/kwh setgid kwh.
if command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null && [ "$(id -u)" = 0 ]; then
  sys=$T/sysroot
  mkdir -p "$sys/etc"
  systemd-sysusers --root="$sys" "$root/usr/lib/sysusers.d/kwh.conf" >/dev/null 2>&1 || fail "systemd-sysusers failed"
  uid=$(awk -F: '$1 == "kwh" {print $3}' "$sys/etc/passwd")
  gid=$(awk -F: '$1 == "kwh" {print $3}' "$sys/etc/group")
  [ -n "$uid" ] && [ -n "$gid" ] || fail "sysusers made no kwh user and group"
  grep -q '^dialout:.*:.*kwh' "$sys/etc/group" || fail "kwh is not in group dialout"
  systemd-tmpfiles --root="$sys" --create "$root/usr/lib/tmpfiles.d/kwh.conf" || fail "systemd-tmpfiles failed"
  equals "$(stat -c '%a %u %g' "$sys/var/lib/kwh")" "2770 $uid $gid"
  [ -d "$sys/etc/kwh/profiles" ] || fail "tmpfiles made no /etc/kwh/profiles"
fi

echo ok
