# The build checked against itself: every subcommand that `kwh --help` lists has a man page, a
# line in kwh(1) and a place in all three completions; every option of every command is
# documented in its man page; every configuration key is in kwh.toml(5) and the example
# kwh.toml; every report and its columns are in kwh-report(1); and every file an install should
# hold is installed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ship_lib.sh"
man=$KWH_SOURCE/man
comp=$KWH_SOURCE/completions

subs=$(kwh_subcommands)
[ "$(echo "$subs" | wc -l)" -ge 14 ] || fail "kwh --help lists too few subcommands: $subs"

# page_of PATH...: the man page source that documents a command.
page_of() {
  case $1 in
    refund) echo "$man/kwh-sell.1.scd" ;;
    *) echo "$man/kwh-$1.1.scd" ;;
  esac
}

for sub in $subs; do
  src=$(page_of "$sub")
  [ -f "$src" ] || fail "kwh $sub has no man page source ${src#"$KWH_SOURCE"/}"
  [ -f "$KWH_BUILD/man/kwh-$sub.1.gz" ] || fail "kwh-$sub.1.gz was not built (is scdoc installed?)"
  grep -q "^\*$sub\*" "$man/kwh.1.scd" || fail "kwh(1) does not list the command $sub"
  grep -q "kwh-$sub\*(1)" "$man/kwh.1.scd" || fail "kwh(1) does not point to kwh-$sub(1)"
  grep -qw -- "$sub" "$comp/kwh.bash" || fail "the bash completion does not know $sub"
  grep -qw -- "$sub" "$comp/_kwh" || fail "the zsh completion does not know $sub"
  grep -q -- "-a $sub " "$comp/kwh.fish" || fail "the fish completion does not offer $sub"
done

# Every long option of every command (and nested command) is in that command's man page.
check_options() { # PAGE PATH...
  local page=$1 opt; shift
  for opt in $(cli_options "$@"); do
    case $opt in --help | --version) continue ;; esac
    grep -q -- "\*$opt\*" "$page" || fail "${page#"$KWH_SOURCE"/} does not document 'kwh $* $opt'"
  done
}
check_options "$man/kwh.1.scd"
for sub in $subs; do
  check_options "$(page_of "$sub")" "$sub"
  for nested in $(cli_subcommands "$sub"); do
    check_options "$(page_of "$sub")" "$sub" "$nested"
    grep -q "^\*$nested\*" "$(page_of "$sub")" || fail "kwh-$sub(1) does not describe 'kwh $sub $nested'"
  done
done
for opt in $(kwhd --help | grep -o -- '--[a-z-]*' | sort -u); do
  case $opt in --help | --version) continue ;; esac
  grep -q -- "\*$opt\*" "$man/kwhd.8.scd" || fail "kwhd(8) does not document $opt"
done

# Every Prometheus metric that kwhd serves is described in kwhd(8).
metrics_src=$KWH_SOURCE/lib/kwh/daemon/metrics.cpp
if [ -f "$metrics_src" ]; then
  for metric in $(grep -o '"kwh_[a-z_]*' "$metrics_src" | tr -d '"' | sort -u); do
    grep -q "^\*$metric\*" "$man/kwhd.8.scd" || fail "kwhd(8) does not describe the metric $metric"
  done
fi

# Built-in profiles are named in kwh-profile(5) and offered by the completions of --profile.
for f in "$KWH_SOURCE"/examples/profiles/*.toml; do
  [ -e "$f" ] || continue
  name=$(sed -n 's/^name = "\(.*\)".*/\1/p' "$f")
  grep -q "\*$name\*" "$man/kwh-profile.5.scd" || fail "kwh-profile(5) does not name the built-in profile $name"
  for c in kwh.bash _kwh kwh.fish; do
    grep -qw -- "$name" "$comp/$c" || fail "completions/$c does not offer the built-in profile $name"
  done
done

# Every configuration key (the table in lib/kwh/config/config.cpp) is documented and in the
# commented example.
keys=$(grep -o '{{"[a-z_.]*"' "$KWH_SOURCE/lib/kwh/config/config.cpp" | tr -d '{"')
[ "$(echo "$keys" | wc -l)" -ge 10 ] || fail "could not read the configuration keys from config.cpp"
for key in $keys; do
  name=${key#*.}
  grep -q "^\*$name\* = " "$man/kwh.toml.5.scd" || fail "kwh.toml(5) does not document $key"
  grep -Eq "^#?$name = " "$KWH_SOURCE/examples/kwh.toml" || fail "examples/kwh.toml does not show $key"
done

# Every report, and the columns docs/contract.md promises, are in kwh-report(1).
reports=$(kwh report --help | grep -o 'REPORT:{[^}]*}' | sed 's/.*{//; s/}//; s/,/ /g')
[ -n "$reports" ] || reports="sales energy balances alarms offline gateways readings reconcile statement"
for r in $reports; do
  grep -q "^\*$r\*" "$man/kwh-report.1.scd" || fail "kwh-report(1) does not describe report $r"
done
for column in period sales refunds net count energy_kwh volume_m3 cost account status balance; do
  grep -q "\*$column\*" "$man/kwh-report.1.scd" || fail "kwh-report(1) does not name the column $column"
done

# Every column of every report, as its CSV header says on an empty database, is named there.
kwh init -q
for args in "sales" "energy" "balances" "alarms" "offline" "gateways" "readings" "readings --raw" "reconcile"; do
  header=$(kwh report $args --format csv 2>/dev/null | head -1) || continue
  for column in ${header//,/ }; do
    grep -q "\*$column\*" "$man/kwh-report.1.scd" || fail "kwh-report(1) does not name column $column of report $args"
  done
done

# Every file an install must hold is installed.
stage_install "$T/root"
check_tree "$T/root" "the staged install"

echo ok
