-- kwh hub, schema 1: what the sites push, and the tables the office's reports read.
--
-- Each site's kwhd pushes its outbox (one row per ledger entry, event, day of usage and account
-- change, numbered by the site) into site_rows, in order and at least once. A row is never
-- updated or deleted here: a row pushed again with the same hash is a duplicate and is skipped;
-- with a different hash it is an alarm, and the site's pushes stop. The typed tables below are
-- filled from site_rows by the trigger at the end of this file, in the transaction that inserts
-- the row, so that they never disagree with it. Money is BIGINT minor units of the site's
-- currency, as at the site; times are UTC seconds, as at the site.

CREATE TABLE sites (
  site_id    text PRIMARY KEY,
  epoch      text NOT NULL,                     -- the site database's epoch (settings hub.site_epoch)
  last_seq   bigint NOT NULL DEFAULT 0,         -- the highest seq received
  rows       bigint NOT NULL DEFAULT 0,         -- rows received (duplicates not counted)
  last_push  timestamptz,
  registered timestamptz NOT NULL DEFAULT now(),
  stopped    text                               -- why pushes are refused (an alarm open); NULL: accepted
);

CREATE TABLE site_rows (
  site_id  text NOT NULL REFERENCES sites(site_id),
  epoch    text NOT NULL,
  seq      bigint NOT NULL,
  kind     text NOT NULL CHECK (kind IN ('ledger', 'event', 'daily_usage', 'account')),
  key      text NOT NULL,                       -- the site's row: its id, or day:meter_id:account_id
  hash     bytea NOT NULL,                      -- SHA-256 of site_id|epoch|seq|kind|payload as the site wrote it
  payload  jsonb NOT NULL,
  received timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (site_id, seq)
);

CREATE TABLE alarms (
  id       bigserial PRIMARY KEY,
  site_id  text NOT NULL,
  time     timestamptz NOT NULL DEFAULT now(),
  kind     text NOT NULL CHECK (kind IN ('hash_mismatch', 'restored', 'epoch')),
  seq      bigint,                              -- the row concerned, where there is one
  detail   text NOT NULL,
  resolved timestamptz
);
CREATE INDEX alarms_site ON alarms(site_id, time);

-- The sites' ledgers: every entry once, as the site wrote it.
CREATE TABLE ledger (
  site_id    text NOT NULL,
  id         bigint NOT NULL,                   -- the site's ledger id
  seq        bigint NOT NULL,
  account_id bigint NOT NULL,
  account    text,                              -- the account ID when the entry was written
  time       bigint NOT NULL,
  kind       text NOT NULL,
  amount     bigint NOT NULL,                   -- signed minor units: + credit, - debit
  balance    bigint NOT NULL,
  receipt    bigint,
  method     text,
  ref        text,
  operator   text,
  meter_id   bigint,
  meter      text,
  t0         bigint,
  t1         bigint,
  quantity   bigint,
  band       text,
  reverses   bigint,
  note       text,
  hash       text NOT NULL,                     -- the entry's own chain hash at the site (hex)
  accrued    bigint,
  debt_id    bigint,
  PRIMARY KEY (site_id, id)
);
CREATE INDEX ledger_account_time ON ledger(site_id, account_id, time);
CREATE INDEX ledger_kind_time ON ledger(kind, time);

-- The sites' accounts, as of the newest change received.
CREATE TABLE accounts (
  site_id          text NOT NULL,
  id               bigint NOT NULL,
  seq              bigint NOT NULL,
  name             text NOT NULL,
  holder           text,
  phone            text,
  building         text,
  tariff           text,
  alarm1           bigint,
  alarm2           bigint,
  credit_limit     bigint,
  balance          bigint,                      -- as of that change; the ledger has the money since
  status           text,
  opened           bigint,
  closed           bigint,
  emergency_credit bigint,
  emergency_owed   bigint,
  language         text,
  PRIMARY KEY (site_id, id)
);

-- Consumption and its cost by site-local day, meter and account (0: no account).
CREATE TABLE daily_usage (
  site_id    text NOT NULL,
  day        bigint NOT NULL,
  meter_id   bigint NOT NULL,
  account_id bigint NOT NULL,
  seq        bigint NOT NULL,
  meter      text,
  quantity   bigint NOT NULL,
  cost       bigint NOT NULL,
  PRIMARY KEY (site_id, day, meter_id, account_id)
);

CREATE TABLE events (
  site_id    text NOT NULL,
  id         bigint NOT NULL,
  seq        bigint NOT NULL,
  time       bigint NOT NULL,
  kind       text NOT NULL,
  gateway_id bigint,
  meter_id   bigint,
  account_id bigint,
  detail     text,
  ended      bigint,
  PRIMARY KEY (site_id, id)
);

-- Fills the typed tables from a row just inserted into site_rows. A ledger entry is taken
-- once; an account, a day of usage or an event keeps the newest row by seq.
CREATE FUNCTION site_rows_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p jsonb := NEW.payload;
BEGIN
  IF NEW.kind = 'ledger' THEN
    INSERT INTO ledger(site_id, id, seq, account_id, account, time, kind, amount, balance, receipt, method, ref,
                       operator, meter_id, meter, t0, t1, quantity, band, reverses, note, hash, accrued, debt_id)
    VALUES (NEW.site_id, (p->>'id')::bigint, NEW.seq, (p->>'account_id')::bigint, p->>'account',
            (p->>'time')::bigint, p->>'kind', (p->>'amount')::bigint, (p->>'balance')::bigint,
            (p->>'receipt')::bigint, p->>'method', p->>'ref', p->>'operator', (p->>'meter_id')::bigint, p->>'meter',
            (p->>'t0')::bigint, (p->>'t1')::bigint, (p->>'quantity')::bigint, p->>'band', (p->>'reverses')::bigint,
            p->>'note', p->>'hash', (p->>'accrued')::bigint, (p->>'debt_id')::bigint)
    ON CONFLICT (site_id, id) DO NOTHING;
  ELSIF NEW.kind = 'account' THEN
    INSERT INTO accounts AS a(site_id, id, seq, name, holder, phone, building, tariff, alarm1, alarm2, credit_limit,
                              balance, status, opened, closed, emergency_credit, emergency_owed, language)
    VALUES (NEW.site_id, (p->>'id')::bigint, NEW.seq, p->>'name', p->>'holder', p->>'phone', p->>'building',
            p->>'tariff', (p->>'alarm1')::bigint, (p->>'alarm2')::bigint, (p->>'credit_limit')::bigint,
            (p->>'balance')::bigint, p->>'status', (p->>'opened')::bigint, (p->>'closed')::bigint,
            (p->>'emergency_credit')::bigint, (p->>'emergency_owed')::bigint, p->>'language')
    ON CONFLICT (site_id, id) DO UPDATE SET
      seq = EXCLUDED.seq, name = EXCLUDED.name, holder = EXCLUDED.holder, phone = EXCLUDED.phone,
      building = EXCLUDED.building, tariff = EXCLUDED.tariff, alarm1 = EXCLUDED.alarm1, alarm2 = EXCLUDED.alarm2,
      credit_limit = EXCLUDED.credit_limit, balance = EXCLUDED.balance, status = EXCLUDED.status,
      opened = EXCLUDED.opened, closed = EXCLUDED.closed, emergency_credit = EXCLUDED.emergency_credit,
      emergency_owed = EXCLUDED.emergency_owed, language = EXCLUDED.language
    WHERE a.seq < EXCLUDED.seq;
  ELSIF NEW.kind = 'daily_usage' THEN
    INSERT INTO daily_usage AS u(site_id, day, meter_id, account_id, seq, meter, quantity, cost)
    VALUES (NEW.site_id, (p->>'day')::bigint, (p->>'meter_id')::bigint, (p->>'account_id')::bigint, NEW.seq,
            p->>'meter', (p->>'quantity')::bigint, (p->>'cost')::bigint)
    ON CONFLICT (site_id, day, meter_id, account_id) DO UPDATE SET
      seq = EXCLUDED.seq, meter = EXCLUDED.meter, quantity = EXCLUDED.quantity, cost = EXCLUDED.cost
    WHERE u.seq < EXCLUDED.seq;
  ELSIF NEW.kind = 'event' THEN
    INSERT INTO events AS e(site_id, id, seq, time, kind, gateway_id, meter_id, account_id, detail, ended)
    VALUES (NEW.site_id, (p->>'id')::bigint, NEW.seq, (p->>'time')::bigint, p->>'kind', (p->>'gateway_id')::bigint,
            (p->>'meter_id')::bigint, (p->>'account_id')::bigint, p->>'detail', (p->>'ended')::bigint)
    ON CONFLICT (site_id, id) DO UPDATE SET
      seq = EXCLUDED.seq, time = EXCLUDED.time, kind = EXCLUDED.kind, gateway_id = EXCLUDED.gateway_id,
      meter_id = EXCLUDED.meter_id, account_id = EXCLUDED.account_id, detail = EXCLUDED.detail, ended = EXCLUDED.ended
    WHERE e.seq < EXCLUDED.seq;
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER site_rows_apply AFTER INSERT ON site_rows FOR EACH ROW EXECUTE FUNCTION site_rows_apply();
