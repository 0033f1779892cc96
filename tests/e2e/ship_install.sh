# `cmake --install` puts every file where a Debian system looks for it: binaries, man pages,
# completions, the systemd unit with sysusers and tmpfiles snippets, examples and profiles.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ship_lib.sh"

root=$T/root
stage_install "$root"
check_tree "$root" "the staged install"

# Every file the install reported exists, and nothing in the source tree was left uninstalled.
[ -s "$root.installed" ] || fail "cmake --install reported no files"
while read -r f; do [ -e "$f" ] || fail "reported as installed but missing: $f"; done <"$root.installed"
for scd in "$KWH_SOURCE"/man/*.scd; do
  page=${scd##*/}; page=${page%.scd}
  [ -f "$root/usr/share/man/man${page##*.}/$page.gz" ] || fail "man/$page.scd is not installed"
  gzip -t "$root/usr/share/man/man${page##*.}/$page.gz" || fail "$page.gz is not gzip"
done
for src in "$KWH_SOURCE"/completions/*; do
  case ${src##*/} in CMakeLists.txt) continue ;; esac
  found=no
  for f in "$root"/usr/share/bash-completion/completions/* "$root"/usr/share/zsh/vendor-completions/* \
           "$root"/usr/share/fish/vendor_completions.d/*; do
    cmp -s "$src" "$f" && found=yes
  done
  [ $found = yes ] || fail "completions/${src##*/} is not installed"
done

# The programs run from where they are installed.
expect_exit 0 "$root/usr/bin/kwh" --version
contains "$OUT" "kwh "
expect_exit 0 "$root/usr/bin/kwhd" --version
for f in "$root"/usr/share/doc/kwh/examples/cron/{nightly-balances,month-end,notify-sms}; do
  [ -x "$f" ] || fail "${f#"$root"} is not executable"
done

# The unit starts the installed daemon; another prefix gets its own path.
grep -qx 'ExecStart=/usr/bin/kwhd' "$root/usr/lib/systemd/system/kwhd.service" || fail "ExecStart is not /usr/bin/kwhd"
DESTDIR=$T/opt cmake --install "$KWH_BUILD" --prefix /opt/kwh >/dev/null
grep -qx 'ExecStart=/opt/kwh/bin/kwhd' "$T/opt/opt/kwh/lib/systemd/system/kwhd.service" ||
  fail "with --prefix /opt/kwh the unit does not start /opt/kwh/bin/kwhd"
[ -x "$T/opt/opt/kwh/bin/kwhd" ] || fail "kwhd not in /opt/kwh/bin"

# The shells find the completions where they were installed.
if [ -f /usr/share/bash-completion/bash_completion ]; then
  out=$(XDG_DATA_DIRS=$root/usr/share bash --norc --noprofile -c '
    . /usr/share/bash-completion/bash_completion
    __load_completion kwh && __load_completion kwhd
    complete -p kwh kwhd' 2>&1) || fail "bash-completion did not load the installed completions: $out"
  contains "$out" "-F _kwh kwh"
  contains "$out" "-F _kwhd kwhd"
fi
# fish loads a completion only for a command it finds on PATH.
if command -v fish >/dev/null; then
  out=$(PATH=$root/usr/bin:$PATH XDG_DATA_DIRS=$root/usr/share HOME=$T fish -c 'complete -C"kwh se"; complete -C"kwhd --ch"' 2>&1)
  contains "$out" "sell"
  contains "$out" "--check-config"
fi
head -1 "$root/usr/share/zsh/vendor-completions/_kwh" | grep -q '^#compdef kwh' || fail "_kwh has no #compdef line"

echo ok
