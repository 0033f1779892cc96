target_sources(kwh_unit PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/test_crypto.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_auth_roles.cpp
)
