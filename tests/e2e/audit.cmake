kwh_e2e(audit_files)
# Creates OS users and the kwh group; skipped (125) when not root.
kwh_e2e(audit_roles LABELS root)
