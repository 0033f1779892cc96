# kwhd against the real simulator on free loopback ports.
kwh_e2e(daemon_schedule TIMEOUT 60)
kwh_e2e(daemon_commands TIMEOUT 60)
kwh_e2e(daemon_reload TIMEOUT 60)
kwh_e2e(daemon_offline TIMEOUT 90)
kwh_e2e(daemon_process TIMEOUT 60)
kwh_e2e(daemon_billing TIMEOUT 60)
kwh_e2e(daemon_busy LABELS nosan TIMEOUT 90)
kwh_e2e(daemon_relay_readback TIMEOUT 150)
