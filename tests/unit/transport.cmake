target_sources(kwh_unit PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/test_transport_frame.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_transport_bus.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_transport_rtu_libmodbus.cpp
)
