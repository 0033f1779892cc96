#!/usr/bin/env bash
# Lists that show what matters: meter list has a water meter's volume in m³ (volume_m3) beside
# an electricity meter's energy in kWh; account list has the phone; the columns are only ever
# added at the end (the CSV header of the earlier releases is still its beginning).
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh"
kwh init >/dev/null
# An electricity meter and a water meter, each on a simulator of its kind, read once by kwhd.
start_sim 1 1 --profile acrel-ddsy1352
kwh gateway add ge --tcp "127.0.0.1:$SIM_PORT" --timeout-ms 500 >/dev/null
start_sim 1 1 --profile generic-water
kwh gateway add gw --tcp "127.0.0.1:$SIM_PORT" --timeout-ms 500 >/dev/null
kwh meter add E1 --gateway ge --unit 1 --profile acrel-ddsy1352 >/dev/null
kwh meter add W1 --gateway gw --unit 1 --profile generic-water >/dev/null
write_config
expect_exit 0 kwhd --config "$T/kwh.toml" --once
e_wh=$(sqlite3 "$KWH_DB" "SELECT json_extract(\"values\", '$.energy_total') FROM meter_values WHERE meter_id = (SELECT id FROM meters WHERE name = 'E1')")
w_l=$(sqlite3 "$KWH_DB" "SELECT json_extract(\"values\", '$.volume_total') FROM meter_values WHERE meter_id = (SELECT id FROM meters WHERE name = 'W1')")
[ -n "$e_wh" ] && [ -n "$w_l" ] || fail "kwhd --once read nothing: '$e_wh' '$w_l'"

expect_exit 0 kwh --json meter list
equals "$(json '[m["energy_kwh"] for m in d if m["meter"] == "E1"][0]' <<<"$OUT")" "$(python3 -c "print($e_wh / 1000)")"
equals "$(json '[m["volume_m3"] for m in d if m["meter"] == "E1"][0]' <<<"$OUT")" None
equals "$(json '[m["volume_m3"] for m in d if m["meter"] == "W1"][0]' <<<"$OUT")" "$(python3 -c "print($w_l / 1000)")"
equals "$(json '[m["energy_kwh"] for m in d if m["meter"] == "W1"][0]' <<<"$OUT")" None
expect_exit 0 kwh --format csv meter list
header=$(head -1 <<<"$OUT")
case "$header" in
  meter,gateway,unit,address,profile,kind,building,room,status,relay,relay_mode,account,last_reading,energy_kwh,*) ;;
  *) fail "meter list's columns moved: $header" ;;
esac
contains "$header" ",volume_m3"
expect_exit 0 kwh meter list
contains "$OUT" "$(python3 -c "print($w_l / 1000)")"

kwh tariff add flat --flat 1.00 >/dev/null
kwh account open A1 --name "Shop 1" --tariff flat --meter E1 --phone "+86 138 0000 0000" --language en >/dev/null
kwh account open A2 --name "Shop 2" --tariff flat >/dev/null
expect_exit 0 kwh --json account list
equals "$(json '" / ".join(a["account"] + "=" + str(a["phone"]) for a in d)' <<<"$OUT")" "A1=+86 138 0000 0000 / A2=None"
expect_exit 0 kwh --format csv account list
equals "$(head -1 <<<"$OUT")" "account,name,status,balance,tariff,meters,alarm1,alarm2,credit_limit,phone,emergency_owed,language"
contains "$OUT" ",0.00,en"
# The language is imported like the phone: a new one with --update, a bad one refused.
printf 'id,language\nA2,zh\n' >"$T/lang.csv"
expect_exit 0 kwh account import --update "$T/lang.csv"
equals "$(kwh account show A2 --json | json 'd["language"]')" zh
printf 'id,language\nA2,z\n' >"$T/lang.csv"
expect_exit 65 kwh account import --update "$T/lang.csv"
equals "$(kwh account show A2 --json | json 'd["language"]')" zh
expect_exit 0 kwh account list
contains "$OUT" "+86 138 0000 0000"
echo ok
