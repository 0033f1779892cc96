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

echo ok
