// The schema, as numbered migrations. A migration is never edited once released: later
// changes are new entries at the end. Each runs in one transaction with its user_version.
//
// Conventions: times are INTEGER UTC seconds; money is INTEGER minor units; energy INTEGER Wh;
// volume INTEGER litres. Ledger and audit rows carry a SHA-256 chain (hash over the previous
// row's hash and the row's own fields), checked by `kwh check`.

#include <kwh/storage/database.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace kwh::storage {

namespace {

const std::vector<const char*>& migrations() {
  static const std::vector<const char*> k_migrations = {
      // 1: the whole first data model (see docs/contract.md for the words it keeps).
      R"sql(
CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- Named counters, such as the receipt number.
CREATE TABLE sequences (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE gateways (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE,
  transport    TEXT NOT NULL CHECK (transport IN ('tcp', 'rtu-over-tcp', 'rtu')),
  address      TEXT NOT NULL,                 -- host:port, or the serial device
  baud         INTEGER,
  parity       TEXT CHECK (parity IN ('N', 'E', 'O')),
  stop_bits    INTEGER CHECK (stop_bits IN (1, 2)),
  timeout_ms   INTEGER,                       -- NULL: [poll] timeout
  gap_ms       INTEGER NOT NULL DEFAULT 0,    -- silence between requests on the bus
  status       TEXT NOT NULL DEFAULT 'unknown' CHECK (status IN ('unknown', 'online', 'offline')),
  status_since INTEGER,
  created      INTEGER NOT NULL
);

-- The register map each meter was added with, kept so that stored values stay explainable.
CREATE TABLE profiles (
  name    TEXT PRIMARY KEY,
  source  TEXT NOT NULL,                      -- 'builtin' or the file's path
  body    TEXT NOT NULL,                      -- the TOML text
  updated INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE meters (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,         -- the operator's meter ID
  gateway_id    INTEGER NOT NULL REFERENCES gateways(id),
  unit          INTEGER NOT NULL CHECK (unit BETWEEN 1 AND 247),
  profile       TEXT NOT NULL,                -- profile name or file path
  kind          TEXT NOT NULL CHECK (kind IN ('electricity', 'water')),
  building      TEXT,
  room          TEXT,
  relay_mode    TEXT NOT NULL DEFAULT 'auto' CHECK (relay_mode IN ('auto', 'protect', 'off')),
  relay_state   TEXT NOT NULL DEFAULT 'unknown' CHECK (relay_state IN ('on', 'off', 'unknown')),
  relay_reason  TEXT,                         -- why kwh last opened it: arrears, overload, operator
  overload_w    INTEGER,
  max_power_w   INTEGER,                      -- NULL: [billing] max_power_w
  status        TEXT NOT NULL DEFAULT 'unknown' CHECK (status IN ('unknown', 'online', 'offline')),
  status_since  INTEGER,
  failed_polls  INTEGER NOT NULL DEFAULT 0,
  removed       INTEGER,                      -- when it was removed; NULL while in service
  created       INTEGER NOT NULL
);
CREATE UNIQUE INDEX meters_bus_unit ON meters(gateway_id, unit) WHERE removed IS NULL;
CREATE INDEX meters_building ON meters(building);

CREATE TABLE tariffs (
  id      INTEGER PRIMARY KEY,
  name    TEXT NOT NULL UNIQUE,
  created INTEGER NOT NULL
);

-- A tariff's versions; a charge uses the version in force at the reading's time.
CREATE TABLE tariff_versions (
  id        INTEGER PRIMARY KEY,
  tariff_id INTEGER NOT NULL REFERENCES tariffs(id),
  effective INTEGER NOT NULL,                 -- UTC time of the site-local start date
  unit      TEXT NOT NULL CHECK (unit IN ('kWh', 'm3')),
  kind      TEXT NOT NULL CHECK (kind IN ('flat', 'tou', 'tiers')),
  body      TEXT NOT NULL,                    -- the tariff file's TOML
  created   INTEGER NOT NULL,
  UNIQUE (tariff_id, effective)
);

CREATE TABLE accounts (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE,          -- the account ID
  holder       TEXT NOT NULL,                 -- the customer's name
  phone        TEXT,
  building     TEXT,
  tariff_id    INTEGER NOT NULL REFERENCES tariffs(id),
  alarm1       INTEGER,                       -- balance alarm levels, minor units
  alarm2       INTEGER,
  credit_limit INTEGER NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
  balance      INTEGER NOT NULL DEFAULT 0,    -- cache of SUM(ledger.amount); kwh check proves it
  carry        INTEGER NOT NULL DEFAULT 0,    -- rounding remainder of charges, in 1e-9 minor units
  status       TEXT NOT NULL DEFAULT 'ok'
               CHECK (status IN ('ok', 'alarm1', 'alarm2', 'arrears', 'closed')),
  opened       INTEGER NOT NULL,
  closed       INTEGER
);

-- Which account a meter belongs to, and when: [valid_from, valid_to).
CREATE TABLE assignments (
  id         INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  meter_id   INTEGER NOT NULL REFERENCES meters(id),
  valid_from INTEGER NOT NULL,
  valid_to   INTEGER,
  CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE UNIQUE INDEX assignments_open ON assignments(meter_id) WHERE valid_to IS NULL;
CREATE INDEX assignments_account ON assignments(account_id);
CREATE INDEX assignments_meter ON assignments(meter_id, valid_from);

-- The append-only ledger. The balance is the sum of amounts.
CREATE TABLE ledger (
  id         INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  time       INTEGER NOT NULL,
  kind       TEXT NOT NULL
             CHECK (kind IN ('sale', 'refund', 'charge', 'standing', 'adjustment', 'transfer')),
  amount     INTEGER NOT NULL,                -- signed: + credit, - debit
  balance    INTEGER NOT NULL,                -- the account's balance after this entry
  receipt    INTEGER UNIQUE,                  -- sales and refunds
  method     TEXT CHECK (method IN ('cash', 'card', 'transfer', 'online')),
  ref        TEXT UNIQUE,                     -- the --ref idempotency key
  operator   TEXT,
  meter_id   INTEGER REFERENCES meters(id),   -- charges: the meter, interval and quantity
  t0         INTEGER,
  t1         INTEGER,
  quantity   INTEGER,                         -- Wh or litres
  band       TEXT,
  reverses   INTEGER REFERENCES ledger(id),
  note       TEXT,
  hash       BLOB NOT NULL
);
CREATE INDEX ledger_account_time ON ledger(account_id, time);
CREATE INDEX ledger_kind_time ON ledger(kind, time);
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only; correct with a reversing entry'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only; correct with a reversing entry'); END;

-- Readings: compact rows, clustered by meter and time for range scans.
CREATE TABLE readings (
  meter_id INTEGER NOT NULL,
  t        INTEGER NOT NULL,
  value    INTEGER NOT NULL,                  -- energy_total (Wh) or volume_total (L)
  sharp    INTEGER,                           -- per-band registers (Wh) where the profile has them
  peak     INTEGER,
  flat     INTEGER,
  valley   INTEGER,
  power    INTEGER,                           -- power_total (W) when read
  flags    INTEGER NOT NULL DEFAULT 0,        -- 1 imported, 2 baseline after reset or swap
  PRIMARY KEY (meter_id, t)
) WITHOUT ROWID;

-- The latest complete reading of each meter, with every value of its profile.
CREATE TABLE meter_values (
  meter_id INTEGER PRIMARY KEY REFERENCES meters(id),
  t        INTEGER NOT NULL,
  "values" TEXT NOT NULL                      -- JSON object: name -> canonical value
);

-- Readings held as implausible until an operator accepts or rejects them.
CREATE TABLE held_readings (
  id       INTEGER PRIMARY KEY,
  meter_id INTEGER NOT NULL REFERENCES meters(id),
  t        INTEGER NOT NULL,
  value    INTEGER NOT NULL,
  sharp    INTEGER,
  peak     INTEGER,
  flat     INTEGER,
  valley   INTEGER,
  power    INTEGER,
  reason   TEXT NOT NULL,
  state    TEXT NOT NULL DEFAULT 'held' CHECK (state IN ('held', 'accepted', 'rejected')),
  decided  INTEGER,
  operator TEXT
);
CREATE INDEX held_readings_meter ON held_readings(meter_id, t);

-- Daily rollups kept by the billing path, so that reports never scan raw readings.
CREATE TABLE daily_usage (
  day        INTEGER NOT NULL,                -- UTC time of the site-local midnight
  meter_id   INTEGER NOT NULL,
  account_id INTEGER NOT NULL DEFAULT 0,      -- 0: consumption that belonged to no account
  quantity   INTEGER NOT NULL DEFAULT 0,      -- Wh or litres
  cost       INTEGER NOT NULL DEFAULT 0,      -- minor units charged
  PRIMARY KEY (day, meter_id, account_id)
) WITHOUT ROWID;

-- Commands for meters, queued for kwhd or carried out at once with --direct.
CREATE TABLE commands (
  id          INTEGER PRIMARY KEY,
  meter_id    INTEGER NOT NULL REFERENCES meters(id),
  action      TEXT NOT NULL CHECK (action IN ('relay_on', 'relay_off', 'set', 'sync_time')),
  argument    TEXT,                           -- for set: name=value
  reason      TEXT,                           -- operator, arrears, topup, overload
  state       TEXT NOT NULL DEFAULT 'pending'
              CHECK (state IN ('pending', 'running', 'done', 'failed', 'cancelled')),
  created     INTEGER NOT NULL,
  not_before  INTEGER NOT NULL,               -- postponed (friendly hours) or backing off
  attempts    INTEGER NOT NULL DEFAULT 0,
  last_error  TEXT,
  readback    TEXT,                           -- the state read back after the write
  finished    INTEGER,
  operator    TEXT
);
CREATE INDEX commands_open ON commands(state, not_before) WHERE state IN ('pending', 'running');
CREATE INDEX commands_meter ON commands(meter_id, created);

CREATE TABLE events (
  id         INTEGER PRIMARY KEY,
  time       INTEGER NOT NULL,
  kind       TEXT NOT NULL,                   -- alarm1, alarm2, arrears, overload, meter_offline, ...
  gateway_id INTEGER REFERENCES gateways(id),
  meter_id   INTEGER REFERENCES meters(id),
  account_id INTEGER REFERENCES accounts(id),
  detail     TEXT,
  ended      INTEGER                          -- when the condition cleared; NULL while active
);
CREATE INDEX events_time ON events(time);
CREATE INDEX events_kind_time ON events(kind, time);

CREATE TABLE operators (
  name    TEXT PRIMARY KEY,
  role    TEXT NOT NULL CHECK (role IN ('viewer', 'cashier', 'admin')),
  created INTEGER NOT NULL
) WITHOUT ROWID;

-- The audit log: every change, hash-chained like the ledger.
CREATE TABLE audit (
  id       INTEGER PRIMARY KEY,
  time     INTEGER NOT NULL,
  operator TEXT NOT NULL,
  action   TEXT NOT NULL,
  subject  TEXT,
  command  TEXT,                              -- the command line
  detail   TEXT,
  hash     BLOB NOT NULL
);
CREATE INDEX audit_time ON audit(time);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql",
      // 2: the ledger's CHECK constraints as comparisons, and receipt and ref unique only where
      // set. For an IN list of more than two values SQLite builds a temporary b-tree at every
      // insert (about a sixth of the time of a charge), and every charge put a NULL into both
      // unique indexes. Same columns, rows and triggers; the hash chain is over the values.
      R"sql(
CREATE TABLE ledger_new (
  id         INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  time       INTEGER NOT NULL,
  kind       TEXT NOT NULL
             CHECK (kind = 'sale' OR kind = 'refund' OR kind = 'charge' OR kind = 'standing' OR
                    kind = 'adjustment' OR kind = 'transfer'),
  amount     INTEGER NOT NULL,                -- signed: + credit, - debit
  balance    INTEGER NOT NULL,                -- the account's balance after this entry
  receipt    INTEGER,                         -- sales and refunds (unique)
  method     TEXT CHECK (method = 'cash' OR method = 'card' OR method = 'transfer' OR method = 'online'),
  ref        TEXT,                            -- the --ref idempotency key (unique)
  operator   TEXT,
  meter_id   INTEGER REFERENCES meters(id),   -- charges: the meter, interval and quantity
  t0         INTEGER,
  t1         INTEGER,
  quantity   INTEGER,                         -- Wh or litres
  band       TEXT,
  reverses   INTEGER REFERENCES ledger(id),
  note       TEXT,
  hash       BLOB NOT NULL
);
INSERT INTO ledger_new SELECT id, account_id, time, kind, amount, balance, receipt, method, ref, operator, meter_id,
  t0, t1, quantity, band, reverses, note, hash FROM ledger ORDER BY id;
DROP TABLE ledger;
ALTER TABLE ledger_new RENAME TO ledger;
CREATE UNIQUE INDEX ledger_receipt ON ledger(receipt) WHERE receipt IS NOT NULL;
CREATE UNIQUE INDEX ledger_ref ON ledger(ref) WHERE ref IS NOT NULL;
CREATE INDEX ledger_account_time ON ledger(account_id, time);
CREATE INDEX ledger_kind_time ON ledger(kind, time);
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only; correct with a reversing entry'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only; correct with a reversing entry'); END;
)sql",
      // 3: charges by the day. Consumption is still charged at every reading, into an
      // accumulator per account, meter, band and site-local day, posted to the ledger as one
      // charge entry when the day is over (lib/kwh/ledger/accumulator.hpp). The per-reading
      // charges already in the ledger stay as they are. A ledger entry's accrued is what the
      // account's accumulators held right after it (NULL: nothing), so that its balance is the
      // sum of the entries so far less accrued; an entry without it hashes as before.
      R"sql(
ALTER TABLE ledger ADD COLUMN accrued INTEGER;
CREATE TABLE accumulators (
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  meter_id   INTEGER NOT NULL REFERENCES meters(id),
  band       TEXT NOT NULL,                   -- flat, sharp, peak, valley, tier1, ...
  day        INTEGER NOT NULL,                -- UTC time of the site-local midnight
  version_id INTEGER NOT NULL,                -- the tariff version that priced it
  t0         INTEGER NOT NULL,                -- start of the first interval charged into it
  t1         INTEGER NOT NULL,                -- the last reading charged into it
  quantity   INTEGER NOT NULL,                -- Wh or litres
  amount     INTEGER NOT NULL,                -- minor units charged (a debit, >= 0)
  hash       BLOB NOT NULL,                   -- SHA-256 over the fields above
  PRIMARY KEY (account_id, meter_id, band)
) WITHOUT ROWID;
CREATE INDEX accumulators_day ON accumulators(day);
-- Every charge, posted or still open, for reading the database by hand: amount as in the
-- ledger (a debit is negative).
CREATE VIEW charges AS
  SELECT account_id, meter_id, time, t0, t1, quantity, band, amount, 'posted' AS state FROM ledger
    WHERE kind = 'charge'
  UNION ALL
  SELECT account_id, meter_id, t1, t0, t1, quantity, band, -amount, 'open' FROM accumulators;
)sql",
      // 4: readings in two tiers (lib/kwh/readings/store.hpp). Recent readings stay rows, now
      // keyed by time first, so that a poll cycle's rows go to the end of the table and a commit
      // writes a few pages however many meters were read; older ones are packed, per meter,
      // into compressed blocks. The rows of version 3 are moved into blocks by the code step
      // of this migration (readings::adopt_rows, run by kwh init), in the same transaction.
      R"sql(
ALTER TABLE readings RENAME TO readings_v3;
CREATE TABLE readings (
  t        INTEGER NOT NULL,
  meter_id INTEGER NOT NULL,
  value    INTEGER NOT NULL,                  -- energy_total (Wh) or volume_total (L)
  sharp    INTEGER,                           -- per-band registers (Wh) where the profile has them
  peak     INTEGER,
  flat     INTEGER,
  valley   INTEGER,
  power    INTEGER,                           -- power_total (W) when read
  flags    INTEGER NOT NULL DEFAULT 0,        -- 1 imported, 2 baseline after reset or swap
  PRIMARY KEY (t, meter_id)
) WITHOUT ROWID;
CREATE TABLE reading_blocks (
  meter_id INTEGER NOT NULL,
  t0       INTEGER NOT NULL,                  -- the first reading's time
  t1       INTEGER NOT NULL,                  -- the last reading's time
  n        INTEGER NOT NULL,                  -- readings in the block
  thinned  INTEGER NOT NULL DEFAULT 0,        -- 1 once retention thinned it
  data     BLOB NOT NULL,                     -- lib/kwh/readings/codec.hpp, format 1
  PRIMARY KEY (meter_id, t0)
) WITHOUT ROWID;
-- The raw blocks by their start, for retention to find what to thin.
CREATE INDEX reading_blocks_raw ON reading_blocks(t0) WHERE thinned = 0;
)sql",
      // 5: tenants online (`kwh serve`, lib/kwh/web/). An account's link generation is part of
      // every login link's signature: bumping it (`kwh account link --revoke`) voids its links
      // and sessions. reminder is the tenant's own low-balance level. A session is stored by
      // the SHA-256 of its cookie, never the cookie itself; a redeemed link's nonce is kept
      // until the link would have expired, so that a link works once.
      R"sql(
ALTER TABLE accounts ADD COLUMN link_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN reminder INTEGER;
CREATE TABLE web_sessions (
  id         BLOB PRIMARY KEY,                -- SHA-256 of the cookie's value
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  generation INTEGER NOT NULL,                -- the account's link_generation at login
  csrf       TEXT NOT NULL,                   -- the token every form of the session carries
  created    INTEGER NOT NULL,
  expires    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX web_sessions_expires ON web_sessions(expires);
CREATE TABLE web_links_used (
  nonce      TEXT PRIMARY KEY,
  account_id INTEGER NOT NULL,
  used       INTEGER NOT NULL,
  expires    INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
      // 6: what the meters really say (lib/kwh/dlt645/). A gateway's protocol: Modbus, or DL/T
      // 645-2007 over the same two ways to reach a serial bus (a raw TCP socket to a serial
      // server, or a local serial port), with the password and operator code its meters' relay
      // commands carry. RS-485 direction control for adapters that need it (rts, rts_delay_us).
      // A DL/T 645 meter is addressed by its 12-digit address; its unit is unused (1).
      R"sql(
ALTER TABLE gateways ADD COLUMN protocol TEXT NOT NULL DEFAULT 'modbus' CHECK (protocol IN ('modbus', 'dlt645'));
ALTER TABLE gateways ADD COLUMN password TEXT;           -- DL/T 645: PA P0 P1 P2, 8 hex digits
ALTER TABLE gateways ADD COLUMN operator_code TEXT;      -- DL/T 645: C0 C1 C2 C3, 8 hex digits
ALTER TABLE gateways ADD COLUMN rts TEXT CHECK (rts IN ('up', 'down'));
ALTER TABLE gateways ADD COLUMN rts_delay_us INTEGER;
ALTER TABLE meters ADD COLUMN address TEXT;              -- DL/T 645: 12 decimal digits
DROP INDEX meters_bus_unit;
CREATE UNIQUE INDEX meters_bus_unit ON meters(gateway_id, unit) WHERE removed IS NULL AND address IS NULL;
CREATE UNIQUE INDEX meters_bus_address ON meters(gateway_id, address) WHERE removed IS NULL AND address IS NOT NULL;
)sql",
      // 7: multi-user meters and meters' clocks. A meter may be one circuit of a device that
      // holds several tenants' circuits on one bus (an ADF400L): device names that device, per
      // gateway. clock_drift is how many seconds the meter's clock was ahead (+) or behind (-)
      // kwh's when it was last read (time sync), clock_checked_at when that was. A gateway
      // retired (kwh gateway retire) keeps its history and is polled no more.
      R"sql(
ALTER TABLE gateways ADD COLUMN retired INTEGER;
ALTER TABLE meters ADD COLUMN device TEXT;
ALTER TABLE meters ADD COLUMN clock_drift INTEGER;
ALTER TABLE meters ADD COLUMN clock_checked_at INTEGER;
)sql",
      // 8: opening balances (`kwh account import`): what an account brings from before kwh is a
      // ledger entry of its own kind, 'opening', never a sale. The ledger's CHECK on kind is
      // rebuilt as in version 2; same columns, rows, hashes, indexes and triggers. The view
      // charges names the ledger, so it goes first and comes back as it was.
      R"sql(
DROP VIEW charges;
CREATE TABLE ledger_new (
  id         INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  time       INTEGER NOT NULL,
  kind       TEXT NOT NULL
             CHECK (kind = 'sale' OR kind = 'refund' OR kind = 'charge' OR kind = 'standing' OR
                    kind = 'adjustment' OR kind = 'transfer' OR kind = 'opening'),
  amount     INTEGER NOT NULL,                -- signed: + credit, - debit
  balance    INTEGER NOT NULL,                -- the account's balance after this entry
  receipt    INTEGER,                         -- sales, refunds and opening balances (unique)
  method     TEXT CHECK (method = 'cash' OR method = 'card' OR method = 'transfer' OR method = 'online'),
  ref        TEXT,                            -- the --ref idempotency key (unique)
  operator   TEXT,
  meter_id   INTEGER REFERENCES meters(id),   -- charges: the meter, interval and quantity
  t0         INTEGER,
  t1         INTEGER,
  quantity   INTEGER,                         -- Wh or litres
  band       TEXT,
  reverses   INTEGER REFERENCES ledger(id),
  note       TEXT,
  hash       BLOB NOT NULL,
  accrued    INTEGER                          -- what open accumulators held right after it
);
INSERT INTO ledger_new SELECT id, account_id, time, kind, amount, balance, receipt, method, ref, operator, meter_id,
  t0, t1, quantity, band, reverses, note, hash, accrued FROM ledger ORDER BY id;
DROP TABLE ledger;
ALTER TABLE ledger_new RENAME TO ledger;
CREATE UNIQUE INDEX ledger_receipt ON ledger(receipt) WHERE receipt IS NOT NULL;
CREATE UNIQUE INDEX ledger_ref ON ledger(ref) WHERE ref IS NOT NULL;
CREATE INDEX ledger_account_time ON ledger(account_id, time);
CREATE INDEX ledger_kind_time ON ledger(kind, time);
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only; correct with a reversing entry'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only; correct with a reversing entry'); END;
CREATE VIEW charges AS
  SELECT account_id, meter_id, time, t0, t1, quantity, band, amount, 'posted' AS state FROM ledger
    WHERE kind = 'charge'
  UNION ALL
  SELECT account_id, meter_id, t1, t0, t1, quantity, band, -amount, 'open' FROM accumulators;
)sql",
      // 9: credit and debt. Emergency credit: a ledger entry of kind 'emergency' grants it
      // (+) and repays it (-); accounts.emergency_owed is what is granted and not yet repaid,
      // accounts.emergency_credit the account's own amount (NULL: [billing] emergency_credit),
      // and the status 'emergency' says that the account lives on it. Debts: recorded apart from
      // the balance (debts.amount), recovered by ledger entries of kind 'debt' that name the debt
      // they reduce (ledger.debt_id); debts.remaining is a cache of amount less the recoveries,
      // which kwh check proves. The accounts table is rebuilt for its status CHECK (migrate()
      // turns foreign keys off around it and checks them before it commits); the ledger as in
      // version 8. Rows, hashes, indexes, triggers and views stay as they were.
      R"sql(
CREATE TABLE accounts_new (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE,          -- the account ID
  holder       TEXT NOT NULL,                 -- the customer's name
  phone        TEXT,
  building     TEXT,
  tariff_id    INTEGER NOT NULL REFERENCES tariffs(id),
  alarm1       INTEGER,                       -- balance alarm levels, minor units
  alarm2       INTEGER,
  credit_limit INTEGER NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
  balance      INTEGER NOT NULL DEFAULT 0,    -- cache of SUM(ledger.amount); kwh check proves it
  carry        INTEGER NOT NULL DEFAULT 0,    -- rounding remainder of charges, in 1e-9 minor units
  status       TEXT NOT NULL DEFAULT 'ok'
               CHECK (status IN ('ok', 'alarm1', 'alarm2', 'emergency', 'arrears', 'closed')),
  opened       INTEGER NOT NULL,
  closed       INTEGER,
  link_generation INTEGER NOT NULL DEFAULT 0,
  reminder     INTEGER,
  emergency_credit INTEGER CHECK (emergency_credit >= 0), -- NULL: [billing] emergency_credit
  emergency_owed   INTEGER NOT NULL DEFAULT 0 CHECK (emergency_owed >= 0)
);
INSERT INTO accounts_new(id, name, holder, phone, building, tariff_id, alarm1, alarm2, credit_limit, balance, carry,
  status, opened, closed, link_generation, reminder)
  SELECT id, name, holder, phone, building, tariff_id, alarm1, alarm2, credit_limit, balance, carry, status, opened,
  closed, link_generation, reminder FROM accounts ORDER BY id;
DROP TABLE accounts;
ALTER TABLE accounts_new RENAME TO accounts;

CREATE TABLE debts (
  id         INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  created    INTEGER NOT NULL,
  amount     INTEGER NOT NULL CHECK (amount > 0),  -- minor units, as recorded (and accrued since)
  remaining  INTEGER NOT NULL CHECK (remaining >= 0), -- amount less its recoveries; kwh check proves it
  note       TEXT NOT NULL,
  share      INTEGER CHECK (share BETWEEN 1 AND 100), -- percent of each top-up recovered
  fixed      INTEGER CHECK (fixed > 0),              -- recovered every period while the account is open
  period     TEXT CHECK (period IN ('week', 'month')),
  next_due   INTEGER,                                -- when the next fixed recovery falls due
  operator   TEXT,
  kind       TEXT NOT NULL DEFAULT 'debt' CHECK (kind IN ('debt', 'standing')),
  CHECK ((fixed IS NULL) = (period IS NULL))
);
CREATE INDEX debts_account ON debts(account_id);

DROP VIEW charges;
CREATE TABLE ledger_new (
  id         INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  time       INTEGER NOT NULL,
  kind       TEXT NOT NULL
             CHECK (kind = 'sale' OR kind = 'refund' OR kind = 'charge' OR kind = 'standing' OR
                    kind = 'adjustment' OR kind = 'transfer' OR kind = 'opening' OR kind = 'emergency' OR
                    kind = 'debt'),
  amount     INTEGER NOT NULL,                -- signed: + credit, - debit
  balance    INTEGER NOT NULL,                -- the account's balance after this entry
  receipt    INTEGER,                         -- sales, refunds and opening balances (unique)
  method     TEXT CHECK (method = 'cash' OR method = 'card' OR method = 'transfer' OR method = 'online'),
  ref        TEXT,                            -- the --ref idempotency key (unique)
  operator   TEXT,
  meter_id   INTEGER REFERENCES meters(id),   -- charges: the meter, interval and quantity
  t0         INTEGER,
  t1         INTEGER,
  quantity   INTEGER,                         -- Wh or litres
  band       TEXT,
  reverses   INTEGER REFERENCES ledger(id),
  note       TEXT,
  hash       BLOB NOT NULL,
  accrued    INTEGER,                         -- what open accumulators held right after it
  debt_id    INTEGER REFERENCES debts(id)     -- a debt recovery: the debt it reduces
);
INSERT INTO ledger_new(id, account_id, time, kind, amount, balance, receipt, method, ref, operator, meter_id, t0, t1,
  quantity, band, reverses, note, hash, accrued)
  SELECT id, account_id, time, kind, amount, balance, receipt, method, ref, operator, meter_id, t0, t1, quantity,
  band, reverses, note, hash, accrued FROM ledger ORDER BY id;
DROP TABLE ledger;
ALTER TABLE ledger_new RENAME TO ledger;
CREATE UNIQUE INDEX ledger_receipt ON ledger(receipt) WHERE receipt IS NOT NULL;
CREATE UNIQUE INDEX ledger_ref ON ledger(ref) WHERE ref IS NOT NULL;
CREATE INDEX ledger_account_time ON ledger(account_id, time);
CREATE INDEX ledger_kind_time ON ledger(kind, time);
CREATE INDEX ledger_debt ON ledger(debt_id) WHERE debt_id IS NOT NULL;
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only; correct with a reversing entry'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only; correct with a reversing entry'); END;
CREATE VIEW charges AS
  SELECT account_id, meter_id, time, t0, t1, quantity, band, amount, 'posted' AS state FROM ledger
    WHERE kind = 'charge'
  UNION ALL
  SELECT account_id, meter_id, t1, t0, t1, quantity, band, -amount, 'open' FROM accumulators;
)sql",
      // 10: event hooks (lib/kwh/hooks/). One delivery per (kind, source row), made in the
      // transaction that finds the row, so that neither a crash nor a restart loses or repeats
      // one. source_id names an events, ledger or commands row (which table follows from the
      // kind) without a foreign key: retention prunes events, and a delivery outlives them. The
      // collector's cursors are in settings ('hooks_events', 'hooks_ledger', 'hooks_commands',
      // 'hooks_since'), made when hooks are first configured.
      R"sql(
CREATE TABLE hook_deliveries (
  id         INTEGER PRIMARY KEY,
  kind       TEXT NOT NULL,                   -- low_balance, arrears, payment, ... (kwhd(8))
  source_id  INTEGER NOT NULL,                -- the events, ledger or commands row
  account_id INTEGER REFERENCES accounts(id),
  created    INTEGER NOT NULL,
  payload    TEXT NOT NULL,                   -- the JSON object the program reads on stdin
  program    TEXT,                            -- the command line of the last attempt
  state      TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
  attempts   INTEGER NOT NULL DEFAULT 0,
  next_try   INTEGER NOT NULL,                -- pending: not before this (backing off)
  last_try   INTEGER,
  last_error TEXT,                            -- why the last failed attempt failed
  finished   INTEGER,
  UNIQUE (kind, source_id)
);
CREATE INDEX hook_deliveries_due ON hook_deliveries(next_try) WHERE state = 'pending';
CREATE INDEX hook_deliveries_created ON hook_deliveries(created);
)sql",
      // 11: the tenant's language (a tag such as "en" or "zh-Hans"; NULL: the site's), for the
      // messages event hooks send.
      R"sql(
ALTER TABLE accounts ADD COLUMN language TEXT;
)sql",
      // 12: the outbox that kwhd pushes to the office's hub (lib/kwh/hub/, kwh-hub(1)). Triggers give
      // every ledger entry, event, day of usage and account change a row here, numbered (seq) in
      // the transaction that writes it, without the write paths knowing. Ledger entries and
      // events carry their columns as JSON from the trigger. A day of usage and an account are
      // state, not history, and a day of usage changes with every reading: their rows are marks
      // (payload NULL) that the pusher fills from the current row when it takes them
      // (hub::claim), and a change while a mark is not yet taken (seq above settings
      // 'hub.claimed') adds nothing. An account's balance moves with every reading and is not a
      // change here (schema 14 makes it one, throttled); its other columns are. The pusher's state is
      // in settings ('hub.site_epoch', made here; 'hub.claimed', 'hub.pushed', 'hub.last_push',
      // 'hub.last_error', 'hub.last_error_time', 'hub.alarm').
      R"sql(
CREATE TABLE outbox (
  seq     INTEGER PRIMARY KEY AUTOINCREMENT, -- the site's sequence number, never reused
  kind    TEXT NOT NULL CHECK (kind = 'ledger' OR kind = 'event' OR kind = 'daily_usage' OR kind = 'account'),
  key     TEXT NOT NULL,                     -- the row: its id, or day:meter_id:account_id
  payload TEXT,                              -- the row's columns as a JSON object; NULL: not yet taken
  time    INTEGER NOT NULL                   -- when the row was first written (UTC seconds)
);
CREATE INDEX outbox_daily_usage ON outbox(key) WHERE kind = 'daily_usage';
CREATE INDEX outbox_account ON outbox(key) WHERE kind = 'account';
INSERT OR IGNORE INTO settings(key, value) VALUES ('hub.site_epoch', lower(hex(randomblob(16))));

CREATE TRIGGER outbox_ledger AFTER INSERT ON ledger BEGIN
  INSERT INTO outbox(kind, key, payload, time) VALUES ('ledger', NEW.id, json_object(
    'id', NEW.id, 'account_id', NEW.account_id,
    'account', (SELECT name FROM accounts WHERE id = NEW.account_id), 'time', NEW.time, 'kind', NEW.kind,
    'amount', NEW.amount, 'balance', NEW.balance, 'receipt', NEW.receipt, 'method', NEW.method, 'ref', NEW.ref,
    'operator', NEW.operator, 'meter_id', NEW.meter_id, 'meter', (SELECT name FROM meters WHERE id = NEW.meter_id),
    't0', NEW.t0, 't1', NEW.t1, 'quantity', NEW.quantity, 'band', NEW.band, 'reverses', NEW.reverses,
    'note', NEW.note, 'hash', lower(hex(NEW.hash)), 'accrued', NEW.accrued, 'debt_id', NEW.debt_id),
    unixepoch());
END;
CREATE TRIGGER outbox_event_insert AFTER INSERT ON events BEGIN
  INSERT INTO outbox(kind, key, payload, time) VALUES ('event', NEW.id, json_object(
    'id', NEW.id, 'time', NEW.time, 'kind', NEW.kind, 'gateway_id', NEW.gateway_id, 'meter_id', NEW.meter_id,
    'account_id', NEW.account_id, 'detail', NEW.detail, 'ended', NEW.ended),
    unixepoch());
END;
CREATE TRIGGER outbox_event_update AFTER UPDATE ON events BEGIN
  INSERT INTO outbox(kind, key, payload, time) VALUES ('event', NEW.id, json_object(
    'id', NEW.id, 'time', NEW.time, 'kind', NEW.kind, 'gateway_id', NEW.gateway_id, 'meter_id', NEW.meter_id,
    'account_id', NEW.account_id, 'detail', NEW.detail, 'ended', NEW.ended),
    unixepoch());
END;
CREATE TRIGGER outbox_daily_usage_insert AFTER INSERT ON daily_usage BEGIN
  INSERT INTO outbox(kind, key, time)
    SELECT 'daily_usage', NEW.day || ':' || NEW.meter_id || ':' || NEW.account_id, unixepoch()
    WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE kind = 'daily_usage'
      AND key = NEW.day || ':' || NEW.meter_id || ':' || NEW.account_id
      AND seq > coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'hub.claimed'), 0));
END;
CREATE TRIGGER outbox_daily_usage_update AFTER UPDATE ON daily_usage BEGIN
  INSERT INTO outbox(kind, key, time)
    SELECT 'daily_usage', NEW.day || ':' || NEW.meter_id || ':' || NEW.account_id, unixepoch()
    WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE kind = 'daily_usage'
      AND key = NEW.day || ':' || NEW.meter_id || ':' || NEW.account_id
      AND seq > coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'hub.claimed'), 0));
END;
CREATE TRIGGER outbox_account_insert AFTER INSERT ON accounts BEGIN
  INSERT INTO outbox(kind, key, time)
    SELECT 'account', CAST(NEW.id AS TEXT), unixepoch()
    WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE kind = 'account' AND key = CAST(NEW.id AS TEXT)
      AND seq > coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'hub.claimed'), 0));
END;
CREATE TRIGGER outbox_account_update AFTER UPDATE ON accounts WHEN
  OLD.name IS NOT NEW.name OR OLD.holder IS NOT NEW.holder OR OLD.phone IS NOT NEW.phone OR
  OLD.building IS NOT NEW.building OR OLD.tariff_id IS NOT NEW.tariff_id OR OLD.alarm1 IS NOT NEW.alarm1 OR
  OLD.alarm2 IS NOT NEW.alarm2 OR OLD.credit_limit IS NOT NEW.credit_limit OR OLD.status IS NOT NEW.status OR
  OLD.closed IS NOT NEW.closed OR OLD.emergency_credit IS NOT NEW.emergency_credit OR
  OLD.emergency_owed IS NOT NEW.emergency_owed OR OLD.language IS NOT NEW.language BEGIN
  INSERT INTO outbox(kind, key, time)
    SELECT 'account', CAST(NEW.id AS TEXT), unixepoch()
    WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE kind = 'account' AND key = CAST(NEW.id AS TEXT)
      AND seq > coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'hub.claimed'), 0));
END;
)sql",
      // 13: fewer marks for a day of usage ([hub] usage_every, which kwhd writes to settings
      // 'hub.usage_every' in seconds; 900 until it has): a change adds a mark only when none is
      // waiting and the key's last mark is older than that. The pusher adds the mark a change
      // left out once the last one is old enough (hub::sweep_marks), so the day's last value
      // always follows.
      R"sql(
DROP TRIGGER outbox_daily_usage_insert;
DROP TRIGGER outbox_daily_usage_update;
CREATE TRIGGER outbox_daily_usage_insert AFTER INSERT ON daily_usage BEGIN
  INSERT INTO outbox(kind, key, time)
    SELECT 'daily_usage', NEW.day || ':' || NEW.meter_id || ':' || NEW.account_id, unixepoch()
    WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE kind = 'daily_usage'
      AND key = NEW.day || ':' || NEW.meter_id || ':' || NEW.account_id
      AND (seq > coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'hub.claimed'), 0)
        OR time > unixepoch() - coalesce((SELECT CAST(value AS INTEGER) FROM settings
                                           WHERE key = 'hub.usage_every'), 900)));
END;
CREATE TRIGGER outbox_daily_usage_update AFTER UPDATE ON daily_usage BEGIN
  INSERT INTO outbox(kind, key, time)
    SELECT 'daily_usage', NEW.day || ':' || NEW.meter_id || ':' || NEW.account_id, unixepoch()
    WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE kind = 'daily_usage'
      AND key = NEW.day || ':' || NEW.meter_id || ':' || NEW.account_id
      AND (seq > coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'hub.claimed'), 0)
        OR time > unixepoch() - coalesce((SELECT CAST(value AS INTEGER) FROM settings
                                           WHERE key = 'hub.usage_every'), 900)));
END;
)sql",
      // 14: an account's balance reaches the hub as the site has it. The balance moves with
      // every reading billed, between the ledger entries that carry money; a move now marks the
      // account like a change of a day of usage does (at most every [hub] usage_every, and the
      // pusher's sweep sends the last value, hub::sweep_marks). The other columns mark it at once
      // (outbox_account_update, unchanged); when both fire, the first mark is the one.
      R"sql(
CREATE TRIGGER outbox_account_balance AFTER UPDATE OF balance ON accounts WHEN OLD.balance IS NOT NEW.balance BEGIN
  INSERT INTO outbox(kind, key, time)
    SELECT 'account', CAST(NEW.id AS TEXT), unixepoch()
    WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE kind = 'account' AND key = CAST(NEW.id AS TEXT)
      AND (seq > coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'hub.claimed'), 0)
        OR time > unixepoch() - coalesce((SELECT CAST(value AS INTEGER) FROM settings
                                           WHERE key = 'hub.usage_every'), 900)));
END;
)sql",
      // 15: a ledger entry's outbox row is a mark too, filled with the entry when the pusher takes
      // it (hub::claim): an entry never changes, so the payload is the same, and a sale's
      // transaction no longer builds it. kwh hub reset-epoch fills a new epoch's outbox with a
      // mark per entry the same way.
      R"sql(
DROP TRIGGER outbox_ledger;
CREATE TRIGGER outbox_ledger AFTER INSERT ON ledger BEGIN
  INSERT INTO outbox(kind, key, time) VALUES ('ledger', NEW.id, unixepoch());
END;
)sql",
  };
  return k_migrations;
}

} // namespace

int schema_version_latest() { return static_cast<int>(migrations().size()); }

void check_minor_units(Database& db, int configured) {
  auto st = db.prepare("SELECT value FROM settings WHERE key = 'minor_units'");
  if (!st.step()) return;
  const std::string stored = st.get_text(0);
  if (stored != std::to_string(configured))
    fail(Exit::config,
         "minor_units = {} in the configuration, but database {} keeps money in {} decimals; set minor_units = {} "
         "(amounts already stored would change their meaning)",
         configured, db.path(), stored, stored);
}

int migrate(Database& db, std::optional<int> target, const MigrationSteps& steps) {
  const int last = std::min(target.value_or(schema_version_latest()), schema_version_latest());
  int applied = 0;
  // A migration may rebuild a table that others reference (version 9: accounts), which SQLite
  // allows only with foreign keys off; they are checked before each migration commits instead.
  db.exec("PRAGMA foreign_keys = OFF");
  struct KeysOn {
    Database& db;
    ~KeysOn() {
      try {
        db.exec("PRAGMA foreign_keys = ON");
      } catch (...) {
      }
    }
  } keys_on{db};
  for (;;) {
    Transaction tx(db);
    int current = db.user_version();
    if (current > schema_version_latest())
      fail(Exit::failed, "database {} has schema version {}, newer than this kwh knows ({}); upgrade kwh",
           db.path(), current, schema_version_latest());
    if (current >= last) return applied;
    db.exec(migrations()[static_cast<std::size_t>(current)]);
    if (auto step = steps.find(current + 1); step != steps.end()) step->second(db);
    if (current + 1 == 4) {
      // Version 3's readings: moved into blocks by the step kwh init gives; without it only
      // an empty table may go.
      auto left = db.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'readings_v3'");
      left.step();
      const bool remains = left.get_int(0) != 0;
      left = Statement();
      if (remains) {
        auto rows = db.prepare("SELECT EXISTS(SELECT 1 FROM readings_v3)");
        rows.step();
        if (rows.get_int(0))
          fail(Exit::failed, "database {}: its readings must be moved into blocks; run kwh init", db.path());
        rows = Statement();
        db.exec("DROP TABLE readings_v3");
      }
    }
    {
      auto broken = db.prepare("PRAGMA foreign_key_check");
      if (broken.step())
        fail(Exit::failed, "database {}: migration to version {} leaves a broken reference in table {}", db.path(),
             current + 1, broken.get_text(0));
    }
    db.exec(fmt::format("PRAGMA user_version = {}", current + 1));
    tx.commit();
    ++applied;
  }
}

} // namespace kwh::storage
