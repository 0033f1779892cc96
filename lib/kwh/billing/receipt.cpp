#include <kwh/billing/receipt.hpp>

#include <fmt/format.h>

namespace kwh::billing {

namespace {

// "label ........ value" on one line; a value too long is cut so the line stays in width.
std::string line(const std::string& label, std::string value) {
  int room = k_receipt_width - static_cast<int>(label.size()) - 1;
  if (room < 1) room = 1;
  if (static_cast<int>(value.size()) > room) value = value.substr(0, static_cast<std::size_t>(room));
  return fmt::format("{}{:>{}}\n", label, value, k_receipt_width - static_cast<int>(label.size()));
}

std::string centred(const std::string& s) {
  std::string t = s.substr(0, k_receipt_width);
  int pad = (k_receipt_width - static_cast<int>(t.size())) / 2;
  return std::string(static_cast<std::size_t>(pad), ' ') + t + "\n";
}

} // namespace

std::string format_receipt(const PaymentResult& p, const std::string& currency, int minor_units) {
  static const char* k_copies[] = {"CUSTOMER COPY", "CASHIER COPY", "ACCOUNTING COPY"};
  std::string out;
  for (int copy = 0; copy < 3; ++copy) {
    out += std::string(k_receipt_width, '=') + "\n";
    out += centred(p.kind == PaymentKind::sale      ? "PREPAID ENERGY - SALE"
                   : p.kind == PaymentKind::refund  ? "PREPAID ENERGY - REFUND"
                                                    : "PREPAID ENERGY - OPENING BALANCE");
    out += centred(k_copies[copy]);
    out += std::string(k_receipt_width, '-') + "\n";
    out += line("Receipt no.", std::to_string(p.receipt));
    out += line("Time", format_time(p.time));
    out += line("Account", p.account);
    out += line("Name", p.holder);
    out += line("Amount", fmt::format("{} {}", currency, p.amount.format(minor_units)));
    if (p.kind == PaymentKind::sale) out += line("Method", p.method);
    // The split of a sale: what repaid emergency credit first, and what is left for energy.
    if (!p.emergency_repaid.is_zero() || !p.debt_recovered.is_zero()) {
      if (!p.emergency_repaid.is_zero())
        out += line("Emergency repaid", fmt::format("{} {}", currency, p.emergency_repaid.format(minor_units)));
      if (!p.debt_recovered.is_zero())
        out += line("Debt recovered", fmt::format("{} {}", currency, p.debt_recovered.format(minor_units)));
      out += line("Credit bought",
                  fmt::format("{} {}", currency,
                              Money::from_minor(p.amount.minor() - p.emergency_repaid.minor() - p.debt_recovered.minor())
                                  .format(minor_units)));
    }
    out += line("New balance", fmt::format("{} {}", currency, p.balance.format(minor_units)));
    out += line("Operator", p.operator_name);
    if (p.ref) out += line("Reference", *p.ref);
    if (p.replayed) out += line("Reprint", "yes");
    out += std::string(k_receipt_width, '=') + "\n";
    if (copy < 2) out += "\n" + centred("- - - - - - - cut here - - - - - - -") + "\n";
  }
  return out;
}

} // namespace kwh::billing
