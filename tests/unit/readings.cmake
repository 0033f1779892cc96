target_sources(kwh_unit PRIVATE ${CMAKE_CURRENT_LIST_DIR}/test_readings_codec.cpp ${CMAKE_CURRENT_LIST_DIR}/test_readings_store.cpp)
