# kwh serve: curl and a headless browser against a real socket.
kwh_e2e(web_serve)
kwh_e2e(web_browser)
