# Site: gateways, meters and relays through the real kwh, against kwh sim and peers we did not write.
kwh_e2e(site_crud TIMEOUT 60)
kwh_e2e(site_sim TIMEOUT 60)
kwh_e2e(site_rtu TIMEOUT 90)
kwh_e2e(site_relay_queue TIMEOUT 60)
kwh_e2e(site_multi_user TIMEOUT 90)
kwh_e2e(site_issue TIMEOUT 90)
kwh_e2e(site_lists TIMEOUT 60)
kwh_e2e(site_gateway_retire TIMEOUT 60)
