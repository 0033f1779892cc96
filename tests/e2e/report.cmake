kwh_e2e(report_formats)
kwh_e2e(report_usage)
kwh_e2e(report_real)
kwh_e2e(report_retention)
