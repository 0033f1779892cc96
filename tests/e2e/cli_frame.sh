# The CLI frame: help, version, unknown subcommands, global options in either position.
. "$(dirname "$0")/lib.sh"

expect_exit 0 kwh --help
for sub in init gateway meter tariff account sell refund relay reading report operator log check sim; do
  contains "$OUT" "  $sub"
done
contains "$OUT" "--db"

expect_exit 0 kwh --version
contains "$OUT" "kwh 0."

expect_exit 64 kwh frobnicate
expect_one_line_error
expect_exit 64 kwh
expect_one_line_error
expect_exit 64 kwh init --no-such-option
expect_one_line_error
expect_exit 64 kwh --format yaml init
expect_one_line_error
contains "$ERR" "--format"

# Global options before and after the subcommand mean the same.
expect_exit 0 kwh --json init
equals "$(echo "$OUT" | json 'd["database"]')" "$KWH_DB"
expect_exit 0 kwh init --json
equals "$(echo "$OUT" | json 'd["created"]')" "False"
expect_exit 0 kwh init --db "$T/other.db" --json
equals "$(echo "$OUT" | json 'd["database"]')" "$T/other.db"
expect_exit 0 kwh --db "$T/third.db" -q init
equals "$OUT" ""
[ -f "$T/third.db" ] || fail "--db before the subcommand was ignored"

echo ok
