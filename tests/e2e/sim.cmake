kwh_e2e(sim_mbpoll TIMEOUT 30)
kwh_e2e(sim_faults TIMEOUT 40)
kwh_e2e(sim_serial TIMEOUT 30)
kwh_e2e(sim_dlt645 TIMEOUT 60)
