# Reliability under faults and load: kwhd and cashiers killed at random, many cashiers at once,
# and a simulator with injected faults. Timing-heavy and multi-process, so not under sanitizers.
kwh_e2e(reliability_crash LABELS nosan TIMEOUT 120)
kwh_e2e(reliability_concurrency LABELS nosan TIMEOUT 120)
kwh_e2e(reliability_faults LABELS nosan TIMEOUT 120)
kwh_e2e(reliability_flap LABELS nosan TIMEOUT 120)
