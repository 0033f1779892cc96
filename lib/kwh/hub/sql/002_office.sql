-- kwh hub, schema 2: what the office does with the hub: top-ups sold at the office (kwh hub
-- sell) for the site to apply, and the meter's kind on each day of usage (kwh hub report energy).
--
-- The only thing that flows from the hub to a site. An intent is a request, not money: the site
-- applies it as a sale in its own database (ledger ref 'hub:' || ref, so the sale is made once
-- however often it is retried) and writes back its receipt, or why it refused. The sale's ledger
-- entry then comes back to the hub through the outbox like any other.
CREATE TABLE intents (
  id       bigserial PRIMARY KEY,
  site_id  text NOT NULL REFERENCES sites(site_id),
  ref      text NOT NULL,                       -- the office's idempotency key, unique per site
  account  text NOT NULL,
  amount   bigint NOT NULL CHECK (amount > 0),  -- minor units of the site's currency
  method   text NOT NULL CHECK (method IN ('cash', 'card', 'transfer', 'online')),
  operator text NOT NULL,                       -- who sold it: the PostgreSQL user, or --operator
  created  timestamptz NOT NULL DEFAULT now(),
  state    text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'refused')),
  receipt  bigint,                              -- the site's receipt number (done)
  balance  bigint,                              -- the account's balance after the sale (done)
  error    text,                                -- why the site refused it (refused)
  applied  timestamptz,                         -- when the site wrote back
  UNIQUE (site_id, ref)
);
CREATE INDEX intents_pending ON intents(site_id, id) WHERE state = 'pending';

-- A day of usage with its meter's kind (electricity, water, ...), so that the hub's energy report
-- sums kWh and m3 apart as the site's does. NULL on rows pushed before: electricity.
ALTER TABLE daily_usage ADD COLUMN meter_kind text;

CREATE OR REPLACE FUNCTION site_rows_apply() RETURNS trigger LANGUAGE plpgsql AS $$
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
    INSERT INTO daily_usage AS u(site_id, day, meter_id, account_id, seq, meter, quantity, cost, meter_kind)
    VALUES (NEW.site_id, (p->>'day')::bigint, (p->>'meter_id')::bigint, (p->>'account_id')::bigint, NEW.seq,
            p->>'meter', (p->>'quantity')::bigint, (p->>'cost')::bigint, p->>'meter_kind')
    ON CONFLICT (site_id, day, meter_id, account_id) DO UPDATE SET
      seq = EXCLUDED.seq, meter = EXCLUDED.meter, quantity = EXCLUDED.quantity, cost = EXCLUDED.cost,
      meter_kind = EXCLUDED.meter_kind
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
