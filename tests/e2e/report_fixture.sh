# A small site for the report tests, written with plain SQL (sourced after lib.sh): the site
# zone is Asia/Shanghai, so that site-local days and months differ from UTC's.
cat > "$T/kwh.toml" <<'TOML'
timezone = "Asia/Shanghai"
TOML
export KWH_CONFIG="$T/kwh.toml"
kwh init >/dev/null

sqlite3 "$KWH_DB" <<'SQL'
INSERT INTO tariffs (id, name, created) VALUES (1, 'flat', 0);
INSERT INTO gateways (id, name, transport, address, status, status_since, created) VALUES
  (1, 'gw-north', 'tcp', '127.0.0.1:5020', 'online', unixepoch('2026-11-01 08:00:00+08:00'), 0),
  (2, 'gw-south', 'rtu-over-tcp', '127.0.0.1:5021', 'offline', unixepoch('2026-11-20 08:00:00+08:00'), 0);
INSERT INTO meters (id, name, gateway_id, unit, profile, kind, building, status, status_since, created) VALUES
  (1, 'M1', 1, 1, 'eastron-sdm630', 'electricity', 'A', 'online', 0, 0),
  (2, 'M2', 2, 1, 'eastron-sdm120', 'electricity', 'B', 'offline', unixepoch('2026-11-20 08:00:00+08:00'), 0),
  (3, 'W1', 1, 2, 'generic-water', 'water', 'A', 'online', 0, 0);
INSERT INTO accounts (id, name, holder, tariff_id, alarm1, alarm2, credit_limit, balance, status, opened, closed) VALUES
  (1, 'A1', 'Noodle bar', 1, 5000, 1000, 0, 31116, 'ok', 0, NULL),
  (2, 'A2', 'Print shop, Ltd.', 1, 2000, 500, 0, -2525, 'arrears', 0, NULL),
  (3, 'A3', 'Gone', 1, NULL, NULL, 0, 0, 'closed', 0, 1);
INSERT INTO assignments (account_id, meter_id, valid_from) VALUES (1, 1, 0), (1, 3, 0), (2, 2, 0);
INSERT INTO ledger (account_id, time, kind, amount, balance, receipt, method, operator, meter_id, t0, t1, quantity, band, hash) VALUES
  (1, unixepoch('2026-10-25 10:00:00+08:00'), 'sale', 10000, 10000, 1, 'cash', 'alice', NULL, NULL, NULL, NULL, NULL, x'00'),
  (1, unixepoch('2026-11-01 00:30:00+08:00'), 'sale', 20050, 30050, 2, 'cash', 'alice', NULL, NULL, NULL, NULL, NULL, x'00'),
  (1, unixepoch('2026-11-02 00:00:00+08:00'), 'charge', -1234, 28816, NULL, NULL, NULL, 1,
     unixepoch('2026-11-01 00:00:00+08:00'), unixepoch('2026-11-02 00:00:00+08:00'), 12345, 'peak', x'00'),
  (1, unixepoch('2026-11-02 00:00:00+08:00'), 'charge', -700, 28116, NULL, NULL, NULL, 3,
     unixepoch('2026-11-01 00:00:00+08:00'), unixepoch('2026-11-02 00:00:00+08:00'), 2500, NULL, x'00'),
  (2, unixepoch('2026-11-03 09:00:00+08:00'), 'sale', 5000, 5000, 3, 'card', 'bob', NULL, NULL, NULL, NULL, NULL, x'00'),
  (2, unixepoch('2026-11-03 15:00:00+08:00'), 'refund', -1525, 3475, 4, 'cash', 'bob', NULL, NULL, NULL, NULL, NULL, x'00'),
  (2, unixepoch('2026-11-05 00:00:00+08:00'), 'charge', -6000, -2525, NULL, NULL, NULL, 2,
     unixepoch('2026-11-04 00:00:00+08:00'), unixepoch('2026-11-05 00:00:00+08:00'), 100000, 'flat', x'00'),
  (1, unixepoch('2026-11-10 18:00:00+08:00'), 'sale', 3000, 31116, 5, 'online', 'alice', NULL, NULL, NULL, NULL, NULL, x'00');
INSERT INTO daily_usage (day, meter_id, account_id, quantity, cost) VALUES
  (unixepoch('2026-11-01 00:00:00+08:00'), 1, 1, 12345, 1234),
  (unixepoch('2026-11-01 00:00:00+08:00'), 3, 1, 2500, 700),
  (unixepoch('2026-11-02 00:00:00+08:00'), 1, 0, 500, 0),
  (unixepoch('2026-11-04 00:00:00+08:00'), 2, 2, 100000, 6000),
  (unixepoch('2026-10-31 00:00:00+08:00'), 1, 1, 999, 99);
INSERT INTO events (time, kind, gateway_id, meter_id, account_id, detail, ended) VALUES
  (unixepoch('2026-11-05 00:00:00+08:00'), 'arrears', NULL, 2, 2, 'balance -25.25', NULL),
  (unixepoch('2026-11-03 15:00:00+08:00'), 'alarm1', NULL, NULL, 2, 'balance 34.75', unixepoch('2026-11-05 00:00:00+08:00')),
  (unixepoch('2026-11-20 08:00:00+08:00'), 'meter_offline', 2, 2, NULL, '3 failed polls', NULL),
  (unixepoch('2026-11-08 12:00:00+08:00'), 'overload', NULL, 1, 1, '12000 W > 10000 W', unixepoch('2026-11-08 12:30:00+08:00')),
  (unixepoch('2026-11-09 12:00:00+08:00'), 'meter_online', 1, 1, NULL, NULL, NULL);
INSERT INTO meter_values (meter_id, t, "values") VALUES
  (1, unixepoch('2026-11-20 10:00:00+08:00'),
   '{"energy_total": 1234567, "power_total": 1500.5, "voltage_a": 230.1, "current_a": 6.52, "frequency": 50.0, "power_factor": 0.98}'),
  (3, unixepoch('2026-11-20 10:00:00+08:00'), '{"volume_total": 4321}');
INSERT INTO readings (meter_id, t, value, peak, valley, power) VALUES
  (1, unixepoch('2026-11-01 00:00:00+08:00'), 1000000, 400000, 600000, 900),
  (1, unixepoch('2026-11-02 00:00:00+08:00'), 1012345, 412345, 600000, NULL),
  (3, unixepoch('2026-11-01 00:00:00+08:00'), 10000, NULL, NULL, NULL),
  (3, unixepoch('2026-11-02 00:00:00+08:00'), 12500, NULL, NULL, NULL),
  (1, unixepoch('2026-10-31 00:00:00+08:00'), 999000, NULL, NULL, NULL);
SQL

# The reports run on fixed dates, not today's.
NOV=(--from 2026-11-01 --to 2026-11-30)
q() { sqlite3 "$KWH_DB" "$1"; }

# xlsx_matches_csv (FILE.xlsx FILE.csv SHEET)...: reads each workbook back with openpyxl and
# checks it against the CSV of the same report: same header and rows, money as numbers shown
# with two decimals, dates and times as datetimes, text as text, a bold frozen header.
xlsx_matches_csv() {
  /usr/bin/python3 - "$@" <<'PY'
import csv, sys, datetime
from decimal import Decimal
import openpyxl
def check_one(xlsx, csvfile, sheet):
 wb = openpyxl.load_workbook(xlsx)
 ws = wb.active
 def die(msg):
     print("xlsx mismatch:", msg, file=sys.stderr); sys.exit(1)
 if ws.title != sheet: die(f"sheet {ws.title!r}, expected {sheet!r}")
 if ws.freeze_panes != "A2": die(f"freeze panes {ws.freeze_panes}")
 rows = list(csv.reader(open(csvfile, newline="")))
 header, body = rows[0], rows[1:]
 cells = list(ws.iter_rows())
 got_header = [c.value for c in cells[0]]
 if got_header != header: die(f"header {got_header} != {header}")
 if not all(c.font.b for c in cells[0]): die("header not bold")
 if len(cells) - 1 != len(body): die(f"{len(cells) - 1} rows, CSV has {len(body)}")
 money = {"sales", "refunds", "net", "cost", "balance", "credit_limit", "alarm1", "alarm2", "amount"}
 times = {"time", "since", "ended", "from", "to"}
 for r, (row, want) in enumerate(zip(cells[1:], body), start=2):
     for c, (cell, text) in enumerate(zip(row, want)):
         name, v = header[c], cell.value
         where = f"row {r} column {name}"
         if name == "duration_s":  # the reports ran a second apart
             if not isinstance(v, int) or abs(v - int(text)) > 5: die(f"{where}: {v!r} != {text}")
             continue
         if name == "duration": continue
         if text == "":
             if v is not None: die(f"{where}: {v!r} for an empty CSV cell")
             continue
         if name in money:
             if not isinstance(v, (int, float)) or isinstance(v, bool): die(f"{where}: money {v!r} is not a number")
             if cell.number_format != "0.00": die(f"{where}: money format {cell.number_format}")
             if Decimal(str(v)).quantize(Decimal("0.01")) != Decimal(text): die(f"{where}: {v} != {text}")
         elif name in times or (name == "period" and len(text) == 10):
             if not isinstance(v, datetime.datetime): die(f"{where}: {v!r} is not a date")
             want_dt = datetime.datetime.fromisoformat(text).replace(tzinfo=None)
             if v != want_dt: die(f"{where}: {v} != {want_dt}")
         elif isinstance(v, (int, float)) and not isinstance(v, bool):
             if abs(Decimal(str(v)) - Decimal(text)) > Decimal("1e-9"): die(f"{where}: {v} != {text}")
             if "." in text and name in ("energy_kwh", "volume_m3") and cell.number_format != "0.000":
                 die(f"{where}: format {cell.number_format}")
         else:
             if not isinstance(v, str) or v != text: die(f"{where}: {v!r} != {text!r}")
args = sys.argv[1:]
for i in range(0, len(args), 3):
    try:
        check_one(*args[i:i + 3])
    except SystemExit:
        print("in", args[i], file=sys.stderr)
        raise
PY
}
