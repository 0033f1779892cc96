target_sources(kwh_unit PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/test_modbus_profile.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_modbus_decode.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_modbus_planner.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_modbus_clock.cpp
)
