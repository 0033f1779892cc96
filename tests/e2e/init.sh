# kwh init creates the database and its folder, is safe twice, honours KWH_DB, and fails
# with one clear line where it cannot write.
. "$(dirname "$0")/lib.sh"

export KWH_DB="$T/deep/er/kwh.db"
expect_exit 0 kwh init
contains "$OUT" "created $KWH_DB"
[ -f "$KWH_DB" ] || fail "KWH_DB was not created"
expect_exit 0 kwh init
contains "$OUT" "up to date"
equals "$(sqlite3 "$KWH_DB" 'PRAGMA journal_mode')" "wal"
[ "$(sqlite3 "$KWH_DB" 'PRAGMA user_version')" -ge 1 ] || fail "no schema version"
equals "$(sqlite3 "$KWH_DB" "SELECT value FROM settings WHERE key = 'minor_units'")" "2"

# A command on a database that does not exist: 66, naming the path and kwh init.
expect_exit 66 kwh --db "$T/missing.db" check
expect_one_line_error
contains "$ERR" "$T/missing.db"

# An unwritable path: one clear line, exit 1, nothing created.
mkdir "$T/ro"
chmod 0555 "$T/ro"
if [ "$(id -u)" = 0 ]; then
  # root writes anywhere on a normal file system; use a path under a regular file instead.
  touch "$T/file"
  expect_exit 1 kwh --db "$T/file/sub/kwh.db" init
else
  expect_exit 1 kwh --db "$T/ro/sub/kwh.db" init
fi
expect_one_line_error
contains "$ERR" "cannot"
expect_exit 1 kwh --db /proc/kwh-test/kwh.db init
expect_one_line_error

# A file that is not a database.
echo "not a database" > "$T/junk.db"
expect_exit 1 kwh --db "$T/junk.db" init
expect_one_line_error
contains "$ERR" "junk.db"

# The decimals of money are fixed when the database is made: a configuration that names other
# decimals is refused (78) by kwh, kwh init and kwhd, naming both, and nothing is written.
kwh tariff add flat --flat 1 >"$T/null"
kwh account open A1 --name Shop --tariff flat >"$T/null"
kwh sell A1 12.34 >"$T/null"
printf 'minor_units = 3\n' >"$T/three.toml"
for cmd in "account show A1" "sell A1 1" "init"; do
  # shellcheck disable=SC2086
  expect_exit 78 kwh --config "$T/three.toml" $cmd
  expect_one_line_error
  contains "$ERR" "minor_units = 3"
  contains "$ERR" "set minor_units = 2"
done
expect_exit 78 "$KWHD" --config "$T/three.toml" --db "$KWH_DB" --once
contains "$ERR" "minor_units = 3"
expect_exit 0 kwh --json account show A1
contains "$OUT" '"balance": "12.34"'
equals "$(sqlite3 "$KWH_DB" "SELECT count(*) FROM ledger")" "1"

echo ok
