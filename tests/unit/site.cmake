target_sources(kwh_unit PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/test_site_registry.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_site_commands.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_site_relay.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_site_issue.cpp)
