# report --output and sell --receipt follow one rule for FILE (output/file.hpp): a symbolic
# link is refused with 65 and its target left alone (a cron job as root must never be led to
# overwrite another file), as is a folder; a FIFO is written in place and stays a FIFO; a
# regular file is replaced whole and keeps its mode. Every write goes to files in $T.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/report_fixture.sh"

# A symbolic link, to a file and to nowhere: 65, one line, the target as it was, the link kept.
echo "precious" >"$T/target.txt"
chmod 640 "$T/target.txt"
ln -s "$T/target.txt" "$T/link.csv"
expect_exit 65 kwh report sales --format csv --output "$T/link.csv"
expect_one_line_error
contains "$ERR" "$T/link.csv"
contains "$ERR" "symbolic link"
equals "$(cat "$T/target.txt")" "precious"
equals "$(stat -c %a "$T/target.txt")" "640"
[ -L "$T/link.csv" ] || fail "the link was replaced"
ln -s "$T/nowhere.csv" "$T/dangling.csv"
expect_exit 65 kwh report sales --format csv --output "$T/dangling.csv"
expect_one_line_error
[ ! -e "$T/nowhere.csv" ] || fail "a file was created where the dangling link points"
expect_exit 65 kwh report sales --format xlsx --output "$T/link.csv"
expect_one_line_error
equals "$(cat "$T/target.txt")" "precious"

# A folder: 65, nothing written into it.
mkdir "$T/folder"
expect_exit 65 kwh report sales --format csv --output "$T/folder"
expect_one_line_error
contains "$ERR" "it is a folder"
[ -z "$(ls -A "$T/folder")" ] || fail "something was written into the folder"

# A FIFO in $T, read by a background cat: the report arrives, the FIFO is still a FIFO.
mkfifo "$T/pipe"
cat "$T/pipe" >"$T/piped.csv" &
reader=$!
track $reader
expect_exit 0 kwh report sales --format csv --output "$T/pipe"
wait $reader
[ -p "$T/pipe" ] || fail "the FIFO was replaced"
contains "$(head -1 "$T/piped.csv")" "period"
equals "$(kwh report sales --format csv)" "$(cat "$T/piped.csv")"
# An xlsx through the FIFO too: the whole workbook.
cat "$T/pipe" >"$T/piped.xlsx" &
reader=$!
track $reader
expect_exit 0 kwh report sales --format xlsx --output "$T/pipe"
wait $reader
[ -p "$T/pipe" ] || fail "the FIFO was replaced"
equals "$(head -c 2 "$T/piped.xlsx")" "PK"

# A regular file of mode 0600: replaced whole, still 0600, nothing left beside it.
printf 'old contents, longer than any report line could be here\n' >"$T/sales.csv"
chmod 600 "$T/sales.csv"
expect_exit 0 kwh report sales --format csv --output "$T/sales.csv"
equals "$(cat "$T/sales.csv")" "$(kwh report sales --format csv)"
equals "$(stat -c %a "$T/sales.csv")" "600"
[ -f "$T/sales.csv" ] && [ ! -L "$T/sales.csv" ] || fail "not a regular file"
# A new file: 0666 less the umask, as any new file.
(umask 022 && "$KWH" report sales --format csv --output "$T/new.csv")
equals "$(stat -c %a "$T/new.csv")" "644"
equals "$(ls "$T" | grep -c '\.csv\.\|\.xlsx\.\|pipe\.')" "0"

# The receipt of kwh sell, in a database of its own with a real ledger. The receipt file is
# opened before the sale is written (cmd/sell.cpp), so a refused receipt stops the sale:
# nothing in the ledger, nothing written through the link.
export KWH_DB="$T/sell.db"
kwh init >/dev/null
expect_exit 0 kwh tariff add std --flat 1.0000
expect_exit 0 kwh account open S1 --name "Shop One" --tariff std
ln -s "$T/target.txt" "$T/receipt.txt"
expect_exit 65 kwh sell S1 10 --receipt "$T/receipt.txt"
expect_one_line_error
contains "$ERR" "the receipt $T/receipt.txt"
equals "$(cat "$T/target.txt")" "precious"
[ -L "$T/receipt.txt" ] || fail "the receipt link was replaced"
equals "$(sqlite3 "$KWH_DB" "SELECT count(*) FROM ledger")" "0"
expect_exit 65 kwh sell S1 10 --receipt "$T/folder"
expect_one_line_error
contains "$ERR" "it is a folder"
equals "$(sqlite3 "$KWH_DB" "SELECT count(*) FROM ledger")" "0"
# A receipt onto a regular file of mode 0600: written, mode kept, the sale recorded.
rm "$T/receipt.txt"
printf 'old\n' >"$T/receipt.txt"
chmod 600 "$T/receipt.txt"
expect_exit 0 kwh sell S1 10 --receipt "$T/receipt.txt"
contains "$(cat "$T/receipt.txt")" "Shop One"
equals "$(stat -c %a "$T/receipt.txt")" "600"
equals "$(sqlite3 "$KWH_DB" "SELECT count(*) FROM ledger")" "1"
echo "report_output_files: ok"
