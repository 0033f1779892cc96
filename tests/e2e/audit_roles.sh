#!/usr/bin/env bash
# Operators and roles with real OS users: kwh takes the operator from the login name, checks the
# role before every command (77 naming the role), writes who did what to the audit log, and
# kwh log --verify finds an audit row changed with sqlite3. Needs root (to add users); CI runs
# as root. Users are named kwhtest-*-$$ and removed at exit.
source "$KWH_SOURCE/tests/e2e/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root to create test users"
for tool in useradd userdel groupadd runuser sqlite3; do
  command -v "$tool" >/dev/null || skip "needs $tool"
done

ADMIN2=kwhtest-admin-$$
CASHIER=kwhtest-cashier-$$
VIEWER=kwhtest-viewer-$$
OUTSIDER=kwhtest-outsider-$$
made_group=
audit_cleanup() {
  local rc=$?
  for u in "$ADMIN2" "$CASHIER" "$VIEWER" "$OUTSIDER"; do userdel "$u" >/dev/null 2>&1 || true; done
  if [ -n "$made_group" ]; then groupdel kwh >/dev/null 2>&1 || true; fi
  (exit $rc)
  cleanup
}
trap audit_cleanup EXIT

# The intended set-up: a group kwh owns the database; operators are its members.
if ! getent group kwh >/dev/null; then
  groupadd kwh || skip "cannot create group kwh"
  made_group=1
fi
for u in "$ADMIN2" "$CASHIER" "$VIEWER" "$OUTSIDER"; do
  useradd -M -N -g kwh -s /bin/sh "$u" || skip "useradd $u failed"
done
# The other users run a copy of kwh in a folder they can enter: the build and the test's
# folder may be in a private home.
enterable_dir
DB="$U/site/kwh.db"
mkdir -m 0755 "$U/bin"
cp "$KWH" "$U/bin/kwh"
chmod 0755 "$U/bin/kwh"

# as USER ARGS...: runs kwh as that OS user.
as() { local u=$1; shift; runuser -u "$u" -- "$U/bin/kwh" --db "$DB" "$@"; }

# kwh init as root: the folder 2770 and the file 0660, group kwh.
expect_exit 0 kwh --db "$DB" init
equals "$(stat -c '%a %G' "$U/site")" "2770 kwh"
equals "$(stat -c '%a %G' "$DB")" "660 kwh"

# Before the first operator, anyone who can open the database is admin.
expect_exit 0 as "$OUTSIDER" operator list

# The first operator must be an admin.
expect_exit 65 kwh --db "$DB" operator add "$VIEWER" --role viewer
expect_one_line_error
expect_exit 0 kwh --db "$DB" operator add root --role admin
expect_exit 0 kwh --db "$DB" operator add "$ADMIN2" --role admin
expect_exit 0 kwh --db "$DB" operator add "$CASHIER" --role cashier
expect_exit 0 kwh --db "$DB" operator add "$VIEWER" --role viewer
expect_exit 0 kwh --db "$DB" tariff add T1 --flat 1.00
expect_exit 0 kwh --db "$DB" account open A1 --name Shop --tariff T1

# A viewer reads, and is refused every change with the role it needs.
expect_exit 0 as "$VIEWER" operator list
contains "$OUT" "$CASHIER"
contains "$OUT" "cashier"
expect_exit 0 as "$VIEWER" log
expect_exit 0 as "$VIEWER" account show A1
expect_exit 77 as "$VIEWER" operator add kwhtest-nobody --role viewer
expect_one_line_error
equals "$ERR" "kwh: 'kwh operator add' needs the admin role; $VIEWER is a viewer"
expect_exit 77 as "$VIEWER" sell A1 5
expect_one_line_error
equals "$ERR" "kwh: 'kwh sell' needs the cashier role; $VIEWER is a viewer"
expect_exit 77 as "$VIEWER" relay off M1
equals "$ERR" "kwh: 'kwh relay' needs the cashier role; $VIEWER is a viewer"
# Once there are operators, only an admin may run kwh init on the database.
expect_exit 77 as "$VIEWER" init
contains "$ERR" "'kwh init' needs the admin role"

# A cashier sells, and is refused what only an admin does.
expect_exit 0 as "$CASHIER" sell A1 10
expect_exit 77 as "$CASHIER" tariff add T2 --flat 2.00
expect_one_line_error
equals "$ERR" "kwh: 'kwh tariff add' needs the admin role; $CASHIER is a cashier"
expect_exit 77 as "$CASHIER" operator remove "$VIEWER"
expect_one_line_error
contains "$ERR" "needs the admin role"

# The cashier passes the role check for relays (there is no meter M1: 66, not 77).
expect_exit 66 as "$CASHIER" relay off M1

# A second admin manages operators.
# An admin may run kwh init; on a current database it changes nothing, and the audit says nothing.
expect_exit 0 as "$ADMIN2" init
expect_exit 0 as "$ADMIN2" --json log
equals "$(printf "%s" "$OUT" | json "d[-1]['operator'] + ' ' + d[-1]['action']")" "$CASHIER sell"
expect_exit 0 as "$ADMIN2" operator add "kwhtest-late-$$" --role viewer
expect_exit 0 as "$ADMIN2" operator remove "kwhtest-late-$$"

# An OS user who is not an operator is refused, even for reading.
expect_exit 77 as "$OUTSIDER" operator list
expect_one_line_error
contains "$ERR" "$OUTSIDER is not a kwh operator"

# Root through sudo is the sudo user.
expect_exit 77 env SUDO_USER="$VIEWER" "$KWH" --db "$DB" operator add kwhtest-sudo --role viewer
contains "$ERR" "$VIEWER is a viewer"

# The -wal and -shm files the users wrote through are still the kwh group's, not world-readable.
for f in "$DB-wal" "$DB-shm"; do
  if [ -e "$f" ]; then
    equals "$(stat -c '%G' "$f")" "kwh"
    case "$(stat -c '%a' "$f")" in *0) ;; *) fail "$f is open to others: $(stat -c '%a' "$f")" ;; esac
  fi
done

# The audit log names who did each change; refused commands wrote nothing.
expect_exit 0 as "$VIEWER" --json log
LOG=$OUT
equals "$(printf '%s' "$LOG" | json "[e['operator'] for e in d if e['action'] == 'sell']")" "[\"$CASHIER\"]"
equals "$(printf '%s' "$LOG" | json "[e['subject'] for e in d if e['action'] == 'sell']")" '["A1 10"]'
equals "$(printf '%s' "$LOG" | json "[e['subject'] for e in d if e['operator'] == '$ADMIN2' and e['action'] != 'init']")" \
  "[\"kwhtest-late-$$\", \"kwhtest-late-$$\"]"
equals "$(printf '%s' "$LOG" | json "[e['action'] for e in d if e['operator'] == '$ADMIN2' and e['action'] != 'init']")" \
  '["operator add", "operator remove"]'
equals "$(printf '%s' "$LOG" | json "len([e for e in d if e['operator'] in ('$VIEWER', '$OUTSIDER')])")" "0"
equals "$(printf '%s' "$LOG" | json "len([e for e in d if e['action'] == 'tariff add'])")" "1"
contains "$(printf '%s' "$LOG" | json "[e['command'] for e in d if e['action'] == 'sell'][0]")" "sell A1 10"

expect_exit 0 as "$VIEWER" log --verify
contains "$OUT" "intact"
expect_exit 0 as "$VIEWER" log --head
HEAD_HASH=$(printf '%s' "$OUT" | cut -d' ' -f2)
[ ${#HEAD_HASH} = 64 ] || fail "head hash: $OUT"

# Someone with write access to the file edits the audit row of the sale with sqlite3.
SALE_ID=$(printf '%s' "$LOG" | json "[e['id'] for e in d if e['action'] == 'sell'][0]")
sqlite3 "$DB" "DROP TRIGGER audit_no_update; UPDATE audit SET operator = 'root' WHERE id = $SALE_ID;"
expect_exit 1 as "$VIEWER" log --verify
expect_exit 1 as "$VIEWER" log --verify
equals "$(printf '%s\n' "$OUT" | wc -l)" "1"
contains "$OUT" "audit: entry $SALE_ID "
contains "$OUT" "altered"
expect_exit 1 as "$VIEWER" log --verify --expect-head "$HEAD_HASH"
echo "ok"
