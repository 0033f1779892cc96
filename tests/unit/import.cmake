target_sources(kwh_unit PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/test_import_csv.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_import_site.cpp
)
