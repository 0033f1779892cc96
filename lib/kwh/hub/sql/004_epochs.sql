-- kwh hub, schema 4: a site that starts a new epoch (kwh hub reset-epoch, after its database was
-- restored from an older copy) keeps its old rows apart instead of merging them.
--
-- The site's kwhd shows the epoch it left and the new one. When the hub holds the one it left,
-- every row of the site (site_rows and the typed tables, its alarms resolved) moves to a site of
-- its own named SITE@ and the old epoch's first 8 hex digits, marked replaced_by SITE: the
-- office still reads it with --site, and checks it, but --all no longer counts it (the new
-- epoch pushes the site's whole ledger again). Intents stay with the site.
ALTER TABLE sites ADD COLUMN replaced_by text; -- moved aside by hub_new_epoch: the site that goes on

CREATE FUNCTION hub_new_epoch(site text, old_epoch text, new_epoch text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  kept text := site || '@' || left(old_epoch, 8);
  current_epoch text;
BEGIN
  SELECT epoch INTO current_epoch FROM sites WHERE site_id = site FOR UPDATE;
  IF current_epoch IS NULL THEN
    RAISE EXCEPTION 'the hub knows no site %', site;
  END IF;
  IF current_epoch = new_epoch THEN
    RETURN NULL; -- done already (an answer lost on the way back)
  END IF;
  IF current_epoch <> old_epoch THEN
    RAISE EXCEPTION 'the hub holds epoch % for site %, not %', current_epoch, site, old_epoch;
  END IF;
  UPDATE alarms SET resolved = now() WHERE site_id = site AND resolved IS NULL;
  INSERT INTO sites(site_id, epoch, last_seq, rows, last_push, registered, stopped, replaced_by)
    SELECT kept, epoch, last_seq, rows, last_push, registered, stopped, site FROM sites WHERE site_id = site;
  UPDATE site_rows SET site_id = kept WHERE site_id = site;
  UPDATE ledger SET site_id = kept WHERE site_id = site;
  UPDATE accounts SET site_id = kept WHERE site_id = site;
  UPDATE daily_usage SET site_id = kept WHERE site_id = site;
  UPDATE events SET site_id = kept WHERE site_id = site;
  UPDATE sites SET epoch = new_epoch, last_seq = 0, rows = 0, last_push = NULL, registered = now(), stopped = NULL
    WHERE site_id = site;
  RETURN kept;
END;
$$;
