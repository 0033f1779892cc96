# The transport's end-to-end tests run kwh::transport through a small client program against
# servers we did not write (pymodbus over TCP, RTU over TCP and a socat pty pair) and kwh sim.
add_executable(kwh_modbus_client ${CMAKE_CURRENT_LIST_DIR}/peers/modbus_client.cpp)
target_link_libraries(kwh_modbus_client PRIVATE kwh CLI11::CLI11)
set_target_properties(kwh_modbus_client PROPERTIES OUTPUT_NAME kwh-modbus-client RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})

kwh_e2e(transport_pymodbus_tcp TIMEOUT 30)
kwh_e2e(transport_pymodbus_rtu_over_tcp TIMEOUT 30)
kwh_e2e(transport_serial TIMEOUT 30)
kwh_e2e(transport_late_reply TIMEOUT 30)
kwh_e2e(transport_rts TIMEOUT 60)
