kwh_e2e(billing_prepaid)
kwh_e2e(billing_readings)
kwh_e2e(billing_replace)
kwh_e2e(billing_cycle TIMEOUT 120)
