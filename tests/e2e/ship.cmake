# Shipping kwh: what is installed and packaged (man pages, completions, the systemd unit,
# examples, the .deb) and that it stays in step with the CLI.
kwh_e2e(ship_install LABELS ship)
kwh_e2e(ship_man LABELS ship)
kwh_e2e(ship_completions LABELS ship)
kwh_e2e(ship_tab LABELS ship)
kwh_e2e(ship_selfcheck LABELS ship)
kwh_e2e(ship_systemd LABELS ship)
kwh_e2e(ship_examples LABELS ship)
# Packaging sanitizer builds proves nothing more and takes longer: nosan.
kwh_e2e(ship_deb LABELS ship nosan TIMEOUT 300)
kwh_e2e(ship_lintian LABELS ship nosan TIMEOUT 300)
# Needs root (other OS users); runs audit_roles and web_serve from a 0700 folder.
kwh_e2e(ship_private_clone LABELS ship root TIMEOUT 300)
