-- kwh hub, schema 3: each account's balance as the site has it, not only as of its newest ledger
-- entry; and the typed tables filled by one function per kind of row.
--
-- A site's balance moves with every reading it bills, between the ledger entries that carry
-- money (charges reach the ledger once a day). Since site schema 14 a move marks the account in
-- the outbox (at most every [hub] usage_every, the last value always sent), and the account's row
-- carries ledger_id: the site's newest ledger entry of that account when the balance was read.
-- The account's balance is then the newer of the two: its own while no later ledger entry has
-- arrived, else that entry's (kwh hub report balances).
ALTER TABLE accounts ADD COLUMN ledger_id bigint; -- NULL: pushed by a site before its schema 14

-- One function per kind, so that a later schema replaces only the kind it changes (PL/pgSQL,
-- whose plans are kept for the session: an SQL function's would be made again for every row).
CREATE FUNCTION site_rows_ledger(site text, row_seq bigint, p jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ledger(site_id, id, seq, account_id, account, time, kind, amount, balance, receipt, method, ref,
                     operator, meter_id, meter, t0, t1, quantity, band, reverses, note, hash, accrued, debt_id)
  VALUES (site, (p->>'id')::bigint, row_seq, (p->>'account_id')::bigint, p->>'account',
          (p->>'time')::bigint, p->>'kind', (p->>'amount')::bigint, (p->>'balance')::bigint,
          (p->>'receipt')::bigint, p->>'method', p->>'ref', p->>'operator', (p->>'meter_id')::bigint, p->>'meter',
          (p->>'t0')::bigint, (p->>'t1')::bigint, (p->>'quantity')::bigint, p->>'band', (p->>'reverses')::bigint,
          p->>'note', p->>'hash', (p->>'accrued')::bigint, (p->>'debt_id')::bigint)
  ON CONFLICT (site_id, id) DO NOTHING;
END;
$$;

CREATE FUNCTION site_rows_account(site text, row_seq bigint, p jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO accounts AS a(site_id, id, seq, name, holder, phone, building, tariff, alarm1, alarm2, credit_limit,
                            balance, status, opened, closed, emergency_credit, emergency_owed, language, ledger_id)
  VALUES (site, (p->>'id')::bigint, row_seq, p->>'name', p->>'holder', p->>'phone', p->>'building',
          p->>'tariff', (p->>'alarm1')::bigint, (p->>'alarm2')::bigint, (p->>'credit_limit')::bigint,
          (p->>'balance')::bigint, p->>'status', (p->>'opened')::bigint, (p->>'closed')::bigint,
          (p->>'emergency_credit')::bigint, (p->>'emergency_owed')::bigint, p->>'language', (p->>'ledger_id')::bigint)
  ON CONFLICT (site_id, id) DO UPDATE SET
    seq = EXCLUDED.seq, name = EXCLUDED.name, holder = EXCLUDED.holder, phone = EXCLUDED.phone,
    building = EXCLUDED.building, tariff = EXCLUDED.tariff, alarm1 = EXCLUDED.alarm1, alarm2 = EXCLUDED.alarm2,
    credit_limit = EXCLUDED.credit_limit, balance = EXCLUDED.balance, status = EXCLUDED.status,
    opened = EXCLUDED.opened, closed = EXCLUDED.closed, emergency_credit = EXCLUDED.emergency_credit,
    emergency_owed = EXCLUDED.emergency_owed, language = EXCLUDED.language, ledger_id = EXCLUDED.ledger_id
  WHERE a.seq < EXCLUDED.seq;
END;
$$;

CREATE FUNCTION site_rows_daily_usage(site text, row_seq bigint, p jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO daily_usage AS u(site_id, day, meter_id, account_id, seq, meter, quantity, cost, meter_kind)
  VALUES (site, (p->>'day')::bigint, (p->>'meter_id')::bigint, (p->>'account_id')::bigint, row_seq,
          p->>'meter', (p->>'quantity')::bigint, (p->>'cost')::bigint, p->>'meter_kind')
  ON CONFLICT (site_id, day, meter_id, account_id) DO UPDATE SET
    seq = EXCLUDED.seq, meter = EXCLUDED.meter, quantity = EXCLUDED.quantity, cost = EXCLUDED.cost,
    meter_kind = EXCLUDED.meter_kind
  WHERE u.seq < EXCLUDED.seq;
END;
$$;

CREATE FUNCTION site_rows_event(site text, row_seq bigint, p jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events AS e(site_id, id, seq, time, kind, gateway_id, meter_id, account_id, detail, ended)
  VALUES (site, (p->>'id')::bigint, row_seq, (p->>'time')::bigint, p->>'kind', (p->>'gateway_id')::bigint,
          (p->>'meter_id')::bigint, (p->>'account_id')::bigint, p->>'detail', (p->>'ended')::bigint)
  ON CONFLICT (site_id, id) DO UPDATE SET
    seq = EXCLUDED.seq, time = EXCLUDED.time, kind = EXCLUDED.kind, gateway_id = EXCLUDED.gateway_id,
    meter_id = EXCLUDED.meter_id, account_id = EXCLUDED.account_id, detail = EXCLUDED.detail, ended = EXCLUDED.ended
  WHERE e.seq < EXCLUDED.seq;
END;
$$;

CREATE OR REPLACE FUNCTION site_rows_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  CASE NEW.kind
    WHEN 'ledger' THEN PERFORM site_rows_ledger(NEW.site_id, NEW.seq, NEW.payload);
    WHEN 'account' THEN PERFORM site_rows_account(NEW.site_id, NEW.seq, NEW.payload);
    WHEN 'daily_usage' THEN PERFORM site_rows_daily_usage(NEW.site_id, NEW.seq, NEW.payload);
    WHEN 'event' THEN PERFORM site_rows_event(NEW.site_id, NEW.seq, NEW.payload);
  END CASE;
  RETURN NULL;
END;
$$;
