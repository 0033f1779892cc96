target_sources(kwh_unit PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/test_hooks_collector.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_hooks_program.cpp
)
