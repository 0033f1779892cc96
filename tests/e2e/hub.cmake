# The office's hub against a real PostgreSQL of the test's own (skipped without postgresql-15).
kwh_e2e(hub_push LABELS nosan TIMEOUT 120)
kwh_e2e(hub_sell LABELS nosan TIMEOUT 120)
# A primary with a synchronous standby behind a WAN the test controls: outage, kwhd and primary killed, promotion.
kwh_e2e(hub_failover LABELS nosan TIMEOUT 120)
# Two sites with their own kwhd pushing to one hub at once; the office's report and check over both.
kwh_e2e(hub_sites LABELS nosan TIMEOUT 120)
