# The office's hub against a real PostgreSQL of the test's own (skipped without postgresql-15).
kwh_e2e(hub_push LABELS nosan TIMEOUT 120)
