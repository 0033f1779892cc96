# Shared by the ship_*.sh tests (what kwh installs and packages). Sourced after lib.sh.
: "${KWH_SOURCE:?}" "${KWH_BUILD:?}"

# The command groups that `kwh --help` lists, one a line.
kwh_subcommands() {
  kwh --help | awk '/^Subcommands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}'
}

# The man pages that must be installed (gzipped), relative to share/man: one per subcommand
# group (kwh-refund(1) is a symlink to kwh-sell(1)), the overview, the daemon and the formats.
expected_man_pages() {
  echo man1/kwh.1.gz
  local sub
  for sub in $(kwh_subcommands); do echo "man1/kwh-$sub.1.gz"; done
  echo man8/kwhd.8.gz
  echo man5/kwh.toml.5.gz
  echo man5/kwh-profile.5.gz
  echo man5/kwh-tariff.5.gz
}

# Every file an install with prefix /usr must hold, relative to the staging root.
expected_files() {
  echo usr/bin/kwh
  echo usr/bin/kwhd
  expected_man_pages | sed 's|^|usr/share/man/|'
  echo usr/share/bash-completion/completions/kwh
  echo usr/share/bash-completion/completions/kwhd
  echo usr/share/zsh/vendor-completions/_kwh
  echo usr/share/fish/vendor_completions.d/kwh.fish
  echo usr/share/fish/vendor_completions.d/kwhd.fish
  echo usr/lib/systemd/system/kwhd.service
  echo usr/lib/systemd/system/kwh-serve.service
  echo usr/lib/sysusers.d/kwh.conf
  echo usr/lib/tmpfiles.d/kwh.conf
  echo usr/share/doc/kwh/copyright
  echo usr/share/doc/kwh/changelog.gz
  echo usr/share/doc/kwh/examples/kwh.toml
  local f
  for f in "$KWH_SOURCE"/examples/tariffs/*.toml "$KWH_SOURCE"/examples/profiles/*.toml; do
    [ -e "$f" ] || continue
    echo "usr/share/doc/kwh/examples/${f#"$KWH_SOURCE"/examples/}"
  done
  for f in "$KWH_SOURCE"/examples/cron/*; do
    echo "usr/share/doc/kwh/examples/cron/${f##*/}"
  done
  for f in "$KWH_SOURCE"/examples/commissioning/*.csv; do
    echo "usr/share/doc/kwh/examples/commissioning/${f##*/}"
  done
  for f in "$KWH_SOURCE"/examples/profiles/*.toml; do
    [ -e "$f" ] || continue
    echo "usr/share/kwh/profiles/${f##*/}"
  done
}

# stage_install ROOT: `cmake --install` of the build into ROOT with prefix /usr; the list of
# files it reported is in ROOT.installed (paths under ROOT).
stage_install() {
  local root=$1
  DESTDIR=$root cmake --install "$KWH_BUILD" --prefix /usr >"$root.log" 2>&1 ||
    { cat "$root.log" >&2; fail "cmake --install failed"; }
  sed -n 's/^-- \(Installing\|Up-to-date\): //p' "$root.log" >"$root.installed"
}

# check_tree ROOT WHAT: every expected file is in ROOT.
check_tree() {
  local root=$1 what=$2 f missing=0
  while read -r f; do
    if [ ! -f "$root/$f" ]; then
      echo "missing in $what: /$f" >&2
      missing=$((missing + 1))
    fi
  done < <(expected_files)
  [ $missing = 0 ] || fail "$missing expected files missing in $what"
}

# render_man FILE.gz: fails on any warning of man or groff; the page as text is left in
# $T/page.txt.
render_man() {
  local f=$1 out
  out=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$f" 2>&1 >"$T/page.txt") || fail "man $f failed: $out"
  [ -z "$out" ] || fail "man $f: $out"
  out=$(gzip -dc "$f" | groff -k -man -Tutf8 -ww -z 2>&1) || fail "groff $f failed: $out"
  [ -z "$out" ] || fail "groff $f: $out"
  grep -q "^NAME" "$T/page.txt" || fail "man $f: no NAME section"
}

# The sections of `kwh PATH... --help`: long options (cli_options) and subcommands
# (cli_subcommands) of that command.
cli_options() {
  kwh "$@" --help | awk '/^Options:/ {on = 1; next} /^[^ ]/ {on = 0}
    on && /^  -/ { split($0, col, /   +/); n = split(col[1], names, /[ ,]/)
                   for (i = 1; i <= n; i++) if (names[i] ~ /^--/) print names[i] }'
}
cli_subcommands() {
  kwh "$@" --help | awk '/^Subcommands:/ {on = 1; next} /^[^ ]/ {on = 0} on && /^  [a-z]/ {print $1}'
}
