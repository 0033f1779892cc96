# kwh report refuses what does not make sense with exit 64 and one line naming it, names a
# missing account (66), and writes nothing when it fails.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/report_fixture.sh"

expect_exit 64 kwh report sales --by meter
expect_one_line_error
contains "$ERR" "--by meter"
expect_exit 64 kwh report energy --by operator
expect_one_line_error
contains "$ERR" "--by operator"
expect_exit 64 kwh report balances --by day
expect_one_line_error
expect_exit 64 kwh report sales --by week
expect_one_line_error
contains "$ERR" "week"
expect_exit 64 kwh report nonsense
expect_one_line_error
expect_exit 64 kwh report
expect_one_line_error
expect_exit 64 kwh report statement
expect_one_line_error
contains "$ERR" "--account"
expect_exit 64 kwh report gateways --from 2026-11-01
expect_one_line_error
expect_exit 64 kwh report sales --from 2026-11-05 --to 2026-11-01
expect_one_line_error
expect_exit 64 kwh report balances --active
expect_one_line_error
expect_exit 64 kwh report sales --format xlsx
expect_one_line_error
contains "$ERR" "--output"
expect_exit 65 kwh report sales --from 2026-02-30
expect_one_line_error
contains "$ERR" "2026-02-30"
expect_exit 66 kwh report statement --account NOPE
expect_one_line_error
contains "$ERR" "NOPE"
expect_exit 66 kwh report readings --raw --meter NOPE
expect_one_line_error

# An xlsx into a folder that does not exist: exit 1 naming it, nothing written.
expect_exit 1 kwh report sales --format xlsx --output "$T/missing/sales.xlsx"
expect_one_line_error
contains "$ERR" "$T/missing/sales.xlsx"
[ ! -e "$T/missing" ] || fail "created something"
# A csv over an existing file that fails (bad account) leaves the old file as it was.
echo "old" > "$T/keep.csv"
expect_exit 66 kwh report sales --account NOPE --format csv --output "$T/keep.csv"
equals "$(cat "$T/keep.csv")" "old"
[ -z "$(ls "$T" | grep '\.tmp$' || true)" ] || fail "temporary files left behind"

# Reports only read: the database is unchanged (same ledger, no audit rows).
before=$(sqlite3 "$KWH_DB" 'SELECT COUNT(*) FROM ledger; SELECT COUNT(*) FROM audit')
expect_exit 0 kwh report sales
expect_exit 0 kwh report reconcile
equals "$(sqlite3 "$KWH_DB" 'SELECT COUNT(*) FROM ledger; SELECT COUNT(*) FROM audit')" "$before"

# Reconcile exits 1 and names the difference when a sale's balance movement disagrees with its
# amount (a row written behind kwh's back).
sqlite3 "$KWH_DB" "INSERT INTO ledger (account_id, time, kind, amount, balance, receipt, method, operator, hash)
  VALUES (1, unixepoch('2026-11-03 12:00:00+08:00'), 'sale', 1000, 41116, 99, 'cash', 'mallory', x'00')"
expect_exit 1 kwh report reconcile --from 2026-11-03 --to 2026-11-03 --format csv
contains "$OUT" "mallory,cash,10.00,0.00,10.00,1,payments"
contains "$OUT" "(all),(all),150.00,15.25,134.75,3,balances"
expect_one_line_error
contains "$ERR" "balance movements"
