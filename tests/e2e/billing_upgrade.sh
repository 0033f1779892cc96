#!/usr/bin/env bash
# kwh init migrates, in place, a database that an earlier release made (fixtures/site-schema1.sql
# and site-schema2.sql: the site of fixtures/old_site.sh as the releases with schema 1 and 2
# made it, charging every reading as a ledger entry of its own). Afterwards every old entry is
# still there with its hash, the chain verifies, the ledger's rules hold, and the money is the
# same to the minor unit as the same site made by today's kwh; further days are charged into
# accumulators and posted as one entry per account, meter, band and day, and still agree.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/old_site.sh"
command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"
echo 'timezone = "Asia/Shanghai"' >"$T/kwh.toml"
export KWH_CONFIG="$T/kwh.toml"
fixtures="$(dirname "$0")/fixtures"

money_of() { sqlite3 "$1" "SELECT group_concat(name || ' ' || balance || ' ' || carry || ' ' || status, ', ') FROM
  (SELECT * FROM accounts ORDER BY name)"; }
day_of() { sqlite3 "$1" "SELECT unixepoch('2026-01-$2 00:00:00+08:00')"; }

# The same site built by today's kwh: its first days charged into accumulators.
new="$T/new.db"
KWH_DB="$new" make_old_site "$KWH"
old_site_readings 04 05 156280 36800 42000 47200 5888 >"$T/more.csv"

for v in 1 2; do
  db="$T/v$v.db"
  sqlite3 "$db" <"$fixtures/site-schema$v.sql"
  equals "$(sqlite3 "$db" 'PRAGMA user_version')" "$v"
  entries=$(sqlite3 "$db" "SELECT count(*) || ' ' || sum(amount) FROM ledger")
  hashes=$(sqlite3 "$db" "SELECT group_concat(hex(hash), '') FROM (SELECT hash FROM ledger ORDER BY id)")
  per_reading=$(sqlite3 "$db" "SELECT count(*) FROM ledger WHERE kind = 'charge'")
  [ "$per_reading" -gt 50 ] || fail "schema $v fixture: expected a charge per reading, found $per_reading"

  KWH_DB="$db" expect_exit 0 kwh init
  equals "$(sqlite3 "$db" 'PRAGMA user_version')" "$(sqlite3 "$new" 'PRAGMA user_version')"
  # Every entry as it was: same rows, same hashes.
  equals "$(sqlite3 "$db" "SELECT count(*) || ' ' || sum(amount) FROM ledger")" "$entries"
  equals "$(sqlite3 "$db" "SELECT group_concat(hex(hash), '') FROM (SELECT hash FROM ledger ORDER BY id)")" "$hashes"
  KWH_DB="$db" expect_exit 0 kwh check
  # The same money as today's kwh made of the same site, to the minor unit (balances, rounding
  # carries, statuses), however the charges are grouped in the ledger.
  equals "$(money_of "$db")" "$(money_of "$new")"

  # The ledger's rules hold on the migrated table.
  for sql in "UPDATE ledger SET amount = 1 WHERE id = 1" "DELETE FROM ledger WHERE id = 1" \
             "INSERT INTO ledger(account_id, time, kind, amount, balance, hash) VALUES (1, 0, 'gift', 1, 1, x'00')" \
             "INSERT INTO ledger(account_id, time, kind, amount, balance, method, hash) VALUES (1, 0, 'sale', 1, 1, 'cheque', x'00')" \
             "INSERT INTO ledger(account_id, time, kind, amount, balance, ref, hash) VALUES (2, 0, 'sale', 1, 1, 'till-1', x'00')" \
             "INSERT INTO ledger(account_id, time, kind, amount, balance, receipt, hash) VALUES (2, 0, 'sale', 1, 1, 1, x'00')"; do
    if sqlite3 "$db" "$sql" 2>/dev/null; then fail "schema $v: the migrated ledger accepted: $sql"; fi
  done
  # A --ref sold before the upgrade replays after it.
  KWH_DB="$db" expect_exit 0 kwh sell A1 300 --method cash --ref till-1 --json
  equals "$(echo "$OUT" | json 'd["replayed"]')" "True"

  # Two more days: charged into accumulators, posted by the day (the import's days are over):
  # A1 (flat, one meter) one entry a day, A2 (time of use from its peak, flat and valley
  # registers) three.
  KWH_DB="$db" expect_exit 0 kwh reading import "$T/more.csv"
  for d in 04 05; do
    from=$(day_of "$db" "$d"); to=$((from + 86400))
    equals "$(sqlite3 "$db" "SELECT count(*) FROM ledger l JOIN accounts a ON a.id = l.account_id WHERE a.name = 'A1'
      AND l.kind = 'charge' AND l.time >= $from AND l.time < $to")" 1
    equals "$(sqlite3 "$db" "SELECT group_concat(band, ' ') FROM (SELECT band FROM ledger l JOIN accounts a ON
      a.id = l.account_id WHERE a.name = 'A2' AND l.kind = 'charge' AND l.time >= $from AND l.time < $to ORDER BY band)")" \
      "flat peak valley"
  done
  equals "$(sqlite3 "$db" 'SELECT count(*) FROM accumulators')" 0
  # Each day entry holds the day's consumption: 8 readings of 2 345 Wh for M1.
  equals "$(sqlite3 "$db" "SELECT quantity FROM ledger l JOIN meters m ON m.id = l.meter_id WHERE m.name = 'M1' AND
    l.kind = 'charge' AND l.time >= $(day_of "$db" 05)")" 18760
  KWH_DB="$db" expect_exit 0 kwh check
  KWH_DB="$db" expect_exit 0 kwh report statement --account A2 --from 2026-01-01 --to 2026-01-06 --json
  contains "$(echo "$OUT" | json 'd[-1]["note"]')" "agrees with the ledger"
done

KWH_DB="$new" expect_exit 0 kwh reading import "$T/more.csv"
for v in 1 2; do equals "$(money_of "$T/v$v.db")" "$(money_of "$new")"; done
KWH_DB="$new" expect_exit 0 kwh report energy --from 2026-01-01 --to 2026-01-06 --by account --json
energy_new=$OUT
KWH_DB="$T/v2.db" expect_exit 0 kwh report energy --from 2026-01-01 --to 2026-01-06 --by account --json
equals "$OUT" "$energy_new"
