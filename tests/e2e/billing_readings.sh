# Readings and tariffs end to end: a time-of-use tariff file in a site zone that is not UTC,
# imported readings split over its bands, an implausible reading held then accepted or
# rejected, a counter reset, reading list, tariff show, attach and detach.
. "$KWH_SOURCE/tests/e2e/lib.sh"

command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"
q() { sqlite3 "$KWH_DB" "$1"; }

cat >"$T/kwh.toml" <<'TOML'
timezone = "Asia/Shanghai"
TOML
export KWH_CONFIG="$T/kwh.toml"

kwh init >/dev/null
q "INSERT INTO gateways(name, transport, address, created) VALUES ('g1', 'tcp', '127.0.0.1:5020', 0);
   INSERT INTO meters(name, gateway_id, unit, profile, kind, created) VALUES
     ('M1', 1, 1, 'acrel-ddsy1352', 'electricity', 0), ('M2', 1, 2, 'acrel-ddsy1352', 'electricity', 0),
     ('W1', 1, 3, 'generic-water', 'water', 0);"

cat >"$T/tou.toml" <<'TOML'
effective = "2026-01-01"
unit = "kWh"
[bands]
peak = "1.2000"
flat = "0.8000"
valley = "0.4000"
[[windows]]
band = "peak"
from = "08:00"
to = "12:00"
days = ["mon", "tue", "wed", "thu", "fri"]
[[windows]]
band = "valley"
from = "22:00"
to = "06:00"
TOML
expect_exit 0 kwh tariff add tou --file "$T/tou.toml"
expect_exit 0 kwh tariff show tou --json
equals "$(echo "$OUT" | json 'd["versions"][0]["bands"]["peak"]')" "1.2000"
equals "$(echo "$OUT" | json 'd["versions"][0]["windows"][1]["from"]')" "22:00"
equals "$(echo "$OUT" | json 'd["versions"][0]["effective"]')" "2026-01-01"
expect_exit 0 kwh tariff list --json
equals "$(echo "$OUT" | json 'd[0]["kind"]')" "tou"
# A water meter cannot be on a tariff per kWh.
expect_exit 65 kwh account open W --name W --tariff tou --meter W1

expect_exit 0 kwh account open A1 --name "Café Ünïcode" --tariff tou --meter M1 --opened 2026-01-01T00:00:00+08:00
expect_exit 0 kwh sell A1 1000

# Monday 2026-01-05, site time (+08:00): 06:00-12:00 is 2 h flat and 4 h peak; 6 kWh split by
# time is 2 kWh at 0.80 and 4 kWh at 1.20 = 6.40.
cat >"$T/a.csv" <<'CSV'
meter,time,energy_total
M1,2026-01-05T06:00:00+08:00,100000
M1,2026-01-05 12:00,106000
CSV
expect_exit 0 kwh reading import "$T/a.csv" --json
equals "$(echo "$OUT" | json 'd["charged"]')" "6.40"
equals "$(kwh account show A1 --json | json 'd["balance"]')" "993.60"
equals "$(q "SELECT group_concat(band || ':' || quantity, ' ') FROM (SELECT band, quantity FROM ledger WHERE kind = 'charge' ORDER BY band)")" "flat:2000 peak:4000"

# 200 kWh in one hour is more than 100 kW × 1.5 could draw: held, no charge.
printf 'meter,time,energy_total\nM1,2026-01-05T13:00:00+08:00,306000\n' >"$T/b.csv"
expect_exit 0 kwh reading import "$T/b.csv" --json
equals "$(echo "$OUT" | json 'd["held"]')" "1"
equals "$(kwh account show A1 --json | json 'd["balance"]')" "993.60"
expect_exit 0 kwh reading list M1 --held --json
held=$(echo "$OUT" | json 'd[0]["id"]')
equals "$(echo "$OUT" | json 'd[0]["state"]')" "held"
equals "$(q "SELECT count(*) FROM events WHERE kind = 'implausible'")" "1"
expect_exit 66 kwh reading accept 999
# Accepted: billed as if it had arrived (200 kWh flat at 0.80 = 160.00), the new baseline.
expect_exit 0 kwh reading accept "$held"
equals "$(kwh account show A1 --json | json 'd["balance"]')" "833.60"
expect_exit 65 kwh reading reject "$held"

# Another held one, rejected: the baseline stays.
printf 'meter,time,energy_total\nM1,2026-01-05T14:00:00+08:00,999000\n' >"$T/c.csv"
expect_exit 0 kwh reading import "$T/c.csv"
held2=$(kwh reading list M1 --held --json | json '[r for r in d if r["state"] == "held"][0]["id"]')
expect_exit 0 kwh reading reject "$held2"
printf 'meter,time,energy_total\nM1,2026-01-05T15:00:00+08:00,307000\n' >"$T/d.csv"
expect_exit 0 kwh reading import "$T/d.csv" --json
equals "$(echo "$OUT" | json 'd["charged"]')" "0.80"

# A counter reset: event, no charge, new baseline.
printf 'meter,time,energy_total\nM1,2026-01-05T16:00:00+08:00,50\nM1,2026-01-05T17:00:00+08:00,1050\n' >"$T/e.csv"
expect_exit 0 kwh reading import "$T/e.csv" --json
equals "$(echo "$OUT" | json 'd["counter_resets"]')" "1"
equals "$(echo "$OUT" | json 'd["charged"]')" "0.80"
equals "$(q "SELECT count(*) FROM events WHERE kind = 'counter_reset'")" "1"

expect_exit 0 kwh reading list M1 --from 2026-01-05T12:00:00+08:00 --to 2026-01-05T16:30:00+08:00 --json
equals "$(echo "$OUT" | json 'len(d)')" "4"
equals "$(echo "$OUT" | json 'd[0]["time"]')" "2026-01-05T12:00:00+08:00"
equals "$(echo "$OUT" | json 'd[3]["flags"]')" "imported baseline"

# Attach and detach.
expect_exit 0 kwh account attach A1 M2 --time 2026-01-05T17:00:00+08:00
equals "$(kwh account show A1 --json | json 'len(d["meters"])')" "2"
expect_exit 65 kwh account attach A1 M2
expect_exit 0 kwh account detach A1 M2 --time 2026-01-05T18:00:00+08:00
equals "$(kwh account show A1 --json | json 'd["meters"]')" '["M1"]'
expect_exit 0 kwh account list --json
equals "$(echo "$OUT" | json 'd[0]["name"]')" "Café Ünïcode"

# A long import shows how far it has got on a terminal (script(1) gives it one), and nothing
# on standard error otherwise; the line is cleared before the summary.
/usr/bin/python3 -c "
print('meter,time,energy_total')
for i in range(20000):
    print(f'M2,2026-02-{1 + i // 1440:02d}T{i // 60 % 24:02d}:{i % 60:02d}:00Z,{1000 + i}')
" >"$T/long.csv"
head -n 201 "$T/long.csv" >"$T/short.csv"
expect_exit 0 kwh reading import "$T/short.csv"
equals "$ERR" ""
if command -v script >/dev/null; then
  script -qec "$KWH --db $KWH_DB reading import $T/long.csv" /dev/null >"$T/tty.out" </dev/null
  tty=$(tr '\r' '\n' <"$T/tty.out")
  contains "$tty" "kwh: importing $T/long.csv: read 4096 lines"
  contains "$tty" "kwh: importing $T/long.csv: billing 0 of 19800 readings (0%)"
  contains "$tty" "imported 19800 reading(s), skipped 200"
fi
echo "billing_readings: ok"
