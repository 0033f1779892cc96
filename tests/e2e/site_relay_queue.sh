#!/usr/bin/env bash
# kwh relay without --direct: commands queued in the database for kwhd, --wait, the batch forms
# (ids, -, --account, --building, --all) and the relay modes. Nothing here talks to a bus.
source "$(dirname "$0")/lib.sh"

kwh init >/dev/null
kwh gateway add G1 --tcp 127.0.0.1:1502 >/dev/null
kwh meter add M1 --gateway G1 --unit 1 --profile acrel-ddsy1352 --building North >/dev/null
kwh meter add M2 --gateway G1 --unit 2 --profile acrel-ddsy1352 --building North >/dev/null
kwh meter add M3 --gateway G1 --unit 3 --profile acrel-dtsy1352 --building South >/dev/null
kwh meter add N1 --gateway G1 --unit 4 --profile eastron-sdm630 --building South >/dev/null   # no relay
sqlite3 "$KWH_DB" "INSERT INTO tariffs(name, created) VALUES ('T', 0);
  INSERT INTO accounts(name, holder, tariff_id, opened) VALUES ('SHOP1', 'Shop', 1, 0);
  INSERT INTO assignments(account_id, meter_id, valid_from) SELECT 1, id, 0 FROM meters WHERE name IN ('M2', 'M3');"
commands() { sqlite3 "$KWH_DB" "SELECT m.name || ' ' || c.action || ' ' || c.state || ' ' || c.reason FROM commands c JOIN meters m ON m.id = c.meter_id ORDER BY c.id"; }

# Queued: one pending command per meter, its id printed.
expect_exit 0 kwh relay off M1 -q
equals "$OUT" "$(sqlite3 "$KWH_DB" 'SELECT max(id) FROM commands')"
equals "$(commands)" "M1 relay_off pending operator"
equals "$(sqlite3 "$KWH_DB" "SELECT not_before <= strftime('%s', 'now') AND operator IS NOT NULL FROM commands")" "1"
# Nothing is switched yet: the state stays what it was.
equals "$(kwh meter show M1 --json | json 'd["relay"]')" "unknown"

# A newer relay command for the same meter supersedes the pending one.
expect_exit 0 kwh relay on M1 --json
equals "$(echo "$OUT" | json 'd[0]["state"]')" "pending"
equals "$(commands)" "M1 relay_off cancelled operator
M1 relay_on pending operator"

# --wait with no kwhd running: still pending, 75, naming the command.
start=$SECONDS
expect_exit 75 kwh relay off M1 --wait 1
expect_one_line_error
contains "$ERR" "pending"
[ $((SECONDS - start)) -le 4 ] || fail "--wait 1 took $((SECONDS - start)) s"
# when_queued METER ACTION SQL: a stand-in for kwhd that runs SQL once METER's ACTION command is
# pending (a slow, sanitizer, build may take a while to start kwh and queue it).
when_queued() {
  for _ in $(seq 200); do
    n=$(sqlite3 -cmd '.timeout 5000' "$KWH_DB" "SELECT count(*) FROM commands c JOIN meters m ON m.id = c.meter_id
                                              WHERE m.name = '$1' AND c.action = '$2' AND c.state = 'pending'")
    [ "$n" -gt 0 ] && break; sleep 0.1
  done
  sqlite3 -cmd '.timeout 5000' "$KWH_DB" "$3"
}
# A command that kwhd carries out is seen by --wait (here, the stand-in marks it done).
when_queued M2 relay_on "UPDATE commands SET state = 'done', finished = 1 WHERE state = 'pending'" &
expect_exit 0 kwh relay on M2 --wait 10
equals "$(echo "$OUT" | tail -1 | awk '{print $4}')" "done"
when_queued M2 relay_off "UPDATE commands SET state = 'failed', last_error = 'timeout: no reply' WHERE state = 'pending'" &
expect_exit 69 kwh relay off M2 --wait 10
expect_one_line_error
contains "$ERR" "M2"
contains "$ERR" "timeout"

# Ids from standard input, as in `kwh account list -q | kwh relay off -`.
before=$(sqlite3 "$KWH_DB" 'SELECT count(*) FROM commands')
expect_exit 0 sh -c "printf 'M1\nM2\n' | \"$KWH\" relay off - -q"
equals "$(echo "$OUT" | wc -l)" "2"
equals "$(sqlite3 "$KWH_DB" 'SELECT count(*) FROM commands')" "$((before + 2))"
expect_exit 64 sh -c "printf '' | \"$KWH\" relay off -"
# An unknown meter anywhere in the list: 66, naming it, and nothing queued.
before=$(sqlite3 "$KWH_DB" 'SELECT count(*) FROM commands')
expect_exit 66 sh -c "printf 'M1\nNOPE\n' | \"$KWH\" relay off -"
expect_one_line_error
contains "$ERR" "NOPE"
expect_exit 66 kwh relay off M1 NOPE
# A meter whose profile has no [relay]: 65, nothing queued.
expect_exit 65 kwh relay off M1 N1
expect_one_line_error
contains "$ERR" "N1"
equals "$(sqlite3 "$KWH_DB" 'SELECT count(*) FROM commands')" "$before"

# Batch forms.
expect_exit 0 kwh relay off --account SHOP1 --json
equals "$(echo "$OUT" | json '",".join(r["meter"] for r in d)')" "M2,M3"
expect_exit 66 kwh relay off --account NOBODY
expect_exit 0 kwh relay protect --building North -q
equals "$OUT" "M1
M2"
equals "$(sqlite3 "$KWH_DB" "SELECT group_concat(name || '=' || relay_mode, ' ') FROM (SELECT * FROM meters ORDER BY name)")" \
  "M1=protect M2=protect M3=auto N1=auto"
expect_exit 66 kwh relay off --building Nowhere
expect_exit 64 kwh relay off --all                              # --all needs --yes
expect_one_line_error
expect_exit 64 kwh relay off                                    # no meters named
expect_exit 64 kwh relay off M1 --building North                # two ways at once
expect_exit 64 kwh relay sideways M1
expect_exit 64 kwh relay protect M1 --direct
expect_exit 0 kwh relay auto --all --yes -q
equals "$(echo "$OUT" | wc -l)" "4"
equals "$(sqlite3 "$KWH_DB" "SELECT count(*) FROM meters WHERE relay_mode = 'auto'")" "4"

# Protect never stops an operator's explicit off; mode off holds the relay open against `on`.
kwh relay protect M1 >/dev/null
expect_exit 0 kwh relay off M1
kwh meter set M1 --relay-mode off >/dev/null
expect_exit 65 kwh relay on M1
expect_one_line_error
contains "$ERR" "relay-mode"

# A removed meter is not switched.
sqlite3 "$KWH_DB" "UPDATE assignments SET valid_to = 10"
kwh meter remove M3 >/dev/null
expect_exit 65 kwh relay off M3
equals "$(sqlite3 "$KWH_DB" "SELECT count(*) FROM commands c JOIN meters m ON m.id = c.meter_id WHERE m.name = 'M3' AND c.state = 'pending'")" "0"

echo ok
