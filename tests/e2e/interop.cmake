# Interoperability with libmodbus, a Modbus implementation kwh did not write: a libmodbus client
# reads and switches `kwh sim`, and kwhd polls and switches meters served by a libmodbus server.
# libmodbus is a C library; the top-level project() enables C, this is for a tree that does not.
if(NOT CMAKE_C_COMPILER_LOADED)
  enable_language(C)
endif()

foreach(peer client server)
  add_executable(kwh_libmodbus_${peer} ${CMAKE_CURRENT_LIST_DIR}/peers/libmodbus_${peer}.c)
  target_link_libraries(kwh_libmodbus_${peer} PRIVATE PkgConfig::MODBUS m)
  target_compile_options(kwh_libmodbus_${peer} PRIVATE -Wall -Wextra)
  set_target_properties(kwh_libmodbus_${peer} PROPERTIES
    C_STANDARD 11 C_EXTENSIONS ON
    OUTPUT_NAME kwh-libmodbus-${peer} RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
endforeach()

kwh_e2e(interop_libmodbus_sim TIMEOUT 60 LABELS interop)
kwh_e2e(interop_libmodbus_kwhd TIMEOUT 60 LABELS interop)
kwh_e2e(interop_dlt645_peer TIMEOUT 60 LABELS interop)
# The DL/T 645 peer checks itself against frames worked out by hand from the standard, so that a
# fault in it is not taken for one in kwh.
add_test(NAME interop_dlt645_peer_selftest COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/peers/dlt645_peer_selftest.py)
set_tests_properties(interop_dlt645_peer_selftest PROPERTIES LABELS "e2e;interop" TIMEOUT 60)
