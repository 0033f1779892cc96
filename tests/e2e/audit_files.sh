#!/usr/bin/env bash
# The audit log and file permissions without other users: kwh log lists and verifies the chain,
# finds removed and reordered rows, anchors with --head/--expect-head; world-writable files are
# refused.
source "$KWH_SOURCE/tests/e2e/lib.sh"
command -v sqlite3 >/dev/null || skip "needs sqlite3"

expect_exit 0 kwh init
expect_exit 0 kwh operator add "$(id -un)" --role admin
expect_exit 0 kwh operator add kwhtest-one --role viewer
expect_exit 0 kwh operator add kwhtest-two --role cashier
expect_exit 0 kwh operator add kwhtest-three --role viewer
expect_exit 0 kwh operator remove kwhtest-three

# Refused changes write nothing.
expect_exit 65 kwh operator add kwhtest-one --role viewer
expect_exit 66 kwh operator remove kwhtest-nobody
expect_one_line_error
expect_exit 64 kwh operator add kwhtest-x --role root

# kwh init on a database that is already current changes nothing, and the audit says nothing.
expect_exit 0 kwh init
contains "$OUT" "is up to date"

expect_exit 0 kwh --json log
equals "$(printf '%s' "$OUT" | json "[e['action'] for e in d]")" \
  '["init", "operator add", "operator add", "operator add", "operator add", "operator remove"]'
# The command as typed, by the program's name, not the path it was run from.
equals "$(printf '%s' "$OUT" | json "d[5]['command']")" "kwh operator remove kwhtest-three"
equals "$(printf '%s' "$OUT" | json "d[5]['subject']")" "kwhtest-three"
equals "$(printf '%s' "$OUT" | json "d[0]['operator']")" "$(id -un)"
expect_exit 0 kwh --json log --since 2999-01-01
equals "$(printf '%s' "$OUT" | json "len(d)")" "0"
expect_exit 0 kwh --json log --since 2000-01-01
equals "$(printf '%s' "$OUT" | json "len(d)")" "6"
expect_exit 65 kwh log --since yesterday-ish
expect_one_line_error

expect_exit 0 kwh log --verify
expect_exit 0 kwh --json log --verify
equals "$(printf '%s' "$OUT" | json "d['clean']")" "True"
expect_exit 0 kwh log --head
contains "$OUT" "6 "
HEAD_HASH=${OUT#6 }
expect_exit 0 kwh log --verify --expect-head "$HEAD_HASH"
expect_exit 64 kwh log --verify --expect-head nothex
expect_exit 1 kwh log --verify --expect-head "$(printf '0%.0s' $(seq 64))"
contains "$OUT" "expected head"

# The triggers refuse changes through SQL as long as they are in place.
if sqlite3 "$KWH_DB" "DELETE FROM audit WHERE id = 3" 2>/dev/null; then fail "the audit log took a delete"; fi

# A removed row in the middle.
cp "$KWH_DB" "$T/removed.db"
sqlite3 "$T/removed.db" "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = 3;"
expect_exit 1 kwh --db "$T/removed.db" log --verify
contains "$OUT" "entry 3 is missing"
expect_exit 1 kwh --db "$T/removed.db" --json log --verify
equals "$(printf '%s' "$OUT" | json "d['clean']")" "False"

# Two rows swapped.
cp "$KWH_DB" "$T/swapped.db"
sqlite3 "$T/swapped.db" "DROP TRIGGER audit_no_update;
  UPDATE audit SET id = 100 WHERE id = 2; UPDATE audit SET id = 2 WHERE id = 3; UPDATE audit SET id = 3 WHERE id = 100;"
expect_exit 1 kwh --db "$T/swapped.db" log --verify
contains "$OUT" "entry 2 "
contains "$OUT" "entry 3 "

# The newest row removed: the chain alone cannot tell, the anchored head can.
cp "$KWH_DB" "$T/cut.db"
sqlite3 "$T/cut.db" "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = 6;"
expect_exit 0 kwh --db "$T/cut.db" log --verify
expect_exit 1 kwh --db "$T/cut.db" log --verify --expect-head "$HEAD_HASH"

# World-writable files are refused with the fix named.
chmod o+w "$KWH_DB"
expect_exit 1 kwh log
expect_one_line_error
equals "$ERR" "kwh: $KWH_DB is world-writable; fix with chmod o-w $KWH_DB"
expect_exit 1 kwhd --once
contains "$ERR" "$KWH_DB is world-writable"
chmod o-w "$KWH_DB"
expect_exit 0 kwh log

printf 'minor_units = 2\n' >"$T/kwh.toml"
chmod 0666 "$T/kwh.toml"
expect_exit 78 kwh --config "$T/kwh.toml" operator list
expect_one_line_error
equals "$ERR" "kwh: $T/kwh.toml is world-writable; fix with chmod o-w $T/kwh.toml"
expect_exit 78 kwhd --config "$T/kwh.toml" --check-config
contains "$ERR" "world-writable"
chmod 0644 "$T/kwh.toml"
expect_exit 0 kwh --config "$T/kwh.toml" operator list

# Secrets in arguments are never kept: a DL/T 645 gateway's password and operator code.
expect_exit 0 kwh gateway add dl --dlt645-tcp 127.0.0.1:4001 --password 02123456 --operator-code=00000042
expect_exit 0 kwh --json log
command=$(printf '%s' "$OUT" | json "d[-1]['command']")
equals "$command" "kwh gateway add dl --dlt645-tcp 127.0.0.1:4001 --password *** --operator-code=***"
not_contains "$(sqlite3 "$KWH_DB" "SELECT group_concat(command, ' ') FROM audit")" 02123456
echo "ok"
