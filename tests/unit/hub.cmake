target_sources(kwh_unit PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/test_hub_outbox.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_hub_check.cpp
)
