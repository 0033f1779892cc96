kwh_e2e(billing_prepaid)
