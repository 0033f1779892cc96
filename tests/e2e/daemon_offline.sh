#!/usr/bin/env bash
# When the gateway (the simulator) dies, its meters go offline after offline_after failed polls
# and the gateway with them; when it returns they come back online. Events both ways, and the
# statuses in meters and gateways.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
need_sqlite3
kwh init >/dev/null
start_sim 4 2
add_site 2 2
write_config
start_kwhd
wait_for 10 at_least 4 "SELECT count(*) FROM meters WHERE status = 'online'" || { cat "$T/kwhd.err" >&2; fail "meters never online"; }

mark=$(sql "SELECT coalesce(max(id), 0) FROM events")
# Stop both gateways of the simulator; start a new one on the second gateway's port only.
kill $SIM_PID
wait $SIM_PID 2>/dev/null || true
wait_for 15 at_least 4 "SELECT count(*) FROM events WHERE kind = 'meter_offline'" ||
  { cat "$T/kwhd.err" >&2; fail "meters did not go offline"; }
wait_for 5 at_least 2 "SELECT count(*) FROM events WHERE kind = 'gateway_offline'" || fail "gateways did not go offline"
equals "$(sql "SELECT group_concat(status) FROM (SELECT status FROM meters ORDER BY name)")" "offline,offline,offline,offline"
equals "$(sql "SELECT group_concat(status) FROM (SELECT status FROM gateways ORDER BY name)")" "offline,offline"
[ "$(sql "SELECT min(failed_polls) FROM meters")" -ge 2 ] || fail "failed_polls not counted"
contains "$(cat "$T/kwhd.err")" "meter M1_1 offline (gateway g1 unit 1"
readings=$(sql "SELECT count(*) FROM readings")

SIM_LISTEN_PORT=$((SIM_PORT + 1)) start_sim 2 1
wait_for 20 at_least 2 "SELECT count(*) FROM events WHERE kind = 'meter_online' AND id > $mark" ||
  { cat "$T/kwhd.err" >&2; fail "meters did not come back online"; }
wait_for 5 at_least 1 "SELECT count(*) FROM events WHERE kind = 'gateway_online' AND id > $mark" || fail "gateway g2 not online"
equals "$(sql "SELECT status FROM gateways WHERE name = 'g2'")" online
equals "$(sql "SELECT status FROM gateways WHERE name = 'g1'")" offline
equals "$(sql "SELECT group_concat(status) FROM (SELECT status FROM meters ORDER BY name)")" "offline,offline,online,online"
# The offline events of g2's meters are ended; g1's are still open.
equals "$(sql "SELECT count(*) FROM events e JOIN meters m ON m.id = e.meter_id WHERE e.kind = 'meter_offline' AND e.ended IS NULL AND m.name LIKE 'M2_%'")" 0
equals "$(sql "SELECT count(*) FROM events e JOIN meters m ON m.id = e.meter_id WHERE e.kind = 'meter_offline' AND e.ended IS NULL AND m.name LIKE 'M1_%'")" 2
# Each change once: no repeated offline events while the gateway stayed away.
equals "$(sql "SELECT count(*) FROM events WHERE kind = 'meter_offline'")" 4
[ "$(sql "SELECT count(*) FROM readings")" -gt "$readings" ] || fail "no readings after the gateway returned"
kill -TERM $KWHD_PID
wait $KWHD_PID || fail "kwhd did not exit 0"
