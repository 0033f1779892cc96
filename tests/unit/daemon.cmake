target_sources(kwh_unit PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/test_daemon_schedule.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_daemon_health.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_daemon_poller.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_daemon_writer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_daemon_notify.cpp
)
