kwh_e2e(report_formats)
kwh_e2e(report_usage)
