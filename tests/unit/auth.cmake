target_sources(kwh_unit PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/test_util_sha256.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_auth_roles.cpp
)
