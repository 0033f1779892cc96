target_sources(kwh_unit PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/test_billing_tariff.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_billing_charge.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_billing_payment.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_billing_credit.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_billing_debt.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_billing_biller.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_billing_accumulators.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_billing_import.cpp
)
