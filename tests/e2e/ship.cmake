# Shipping kwh: what is installed and packaged (man pages, completions, the systemd unit,
# examples, the .deb) and that it stays in step with the CLI.
kwh_e2e(ship_install LABELS ship)
kwh_e2e(ship_man LABELS ship)
# The CLI's --help walked against the completions and man pages: the sanitizer build runs the
# same code in every other test, and only takes longer here (48 s and 59 s against 6 s and 10 s).
kwh_e2e(ship_completions LABELS ship nosan)
kwh_e2e(ship_tab LABELS ship)
kwh_e2e(ship_selfcheck LABELS ship nosan)
kwh_e2e(ship_systemd LABELS ship)
kwh_e2e(ship_examples LABELS ship)
# Packaging sanitizer builds proves nothing more and takes longer: nosan.
kwh_e2e(ship_deb LABELS ship nosan TIMEOUT 300)
kwh_e2e(ship_lintian LABELS ship nosan TIMEOUT 300)
# Needs root (other OS users); runs audit_roles and web_serve from a 0700 folder (both of which
# the sanitizer build runs on their own: nosan).
kwh_e2e(ship_private_clone LABELS ship root nosan TIMEOUT 300)
