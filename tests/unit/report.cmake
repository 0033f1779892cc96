target_sources(kwh_unit PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/test_report_period.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_report_sales.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_report_energy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_report_state.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_report_statement.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_output_xlsx.cpp
)
