#pragma once
// The three-part receipt of a sale, a refund or an opening balance (customer, cashier and
// accounting copies), as plain text no wider than 42 columns, the width of common 80 mm
// receipt printers.

#include <kwh/billing/payment.hpp>

#include <string>

namespace kwh::billing {

inline constexpr int k_receipt_width = 42;

std::string format_receipt(const PaymentResult& payment, const std::string& currency, int minor_units);

} // namespace kwh::billing
