target_sources(kwh_unit PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/test_sim_dlt645.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_sim_fleet.cpp
)
