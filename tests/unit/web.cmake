target_sources(kwh_unit PRIVATE ${CMAKE_CURRENT_LIST_DIR}/test_web_page.cpp)
target_sources(kwh_unit PRIVATE ${CMAKE_CURRENT_LIST_DIR}/test_web_webhook.cpp ${CMAKE_CURRENT_LIST_DIR}/test_web_form.cpp)
target_sources(kwh_unit PRIVATE ${CMAKE_CURRENT_LIST_DIR}/test_web_link.cpp)
