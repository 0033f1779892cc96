# Reliability under faults and load: kwhd and cashiers killed at random, many cashiers at once,
# and simulators with injected faults, one test per fault (reliability_lib.sh is their site).
# Timing-heavy and multi-process, so not under sanitizers.
kwh_e2e(reliability_crash LABELS nosan TIMEOUT 120)
kwh_e2e(reliability_concurrency LABELS nosan TIMEOUT 120)
kwh_e2e(reliability_bad_input TIMEOUT 300)
foreach(fault drop delay late exception garbage reset silent)
  kwh_e2e(reliability_fault_${fault} LABELS nosan TIMEOUT 120)
endforeach()
kwh_e2e(reliability_flap LABELS nosan TIMEOUT 120)
