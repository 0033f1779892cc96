#include <kwh/daemon/intents.hpp>

#include <kwh/audit/log.hpp>
#include <kwh/billing/payment.hpp>

#include <fmt/format.h>

namespace kwh::daemon {

hub::Pusher::Sale apply_intent(storage::Database& db, const config::Config& cfg, const hub::Intent& intent,
                               UnixTime t) {
  billing::PaymentRequest req;
  req.account = intent.account;
  req.kind = billing::PaymentKind::sale;
  req.amount = Money::from_minor(intent.amount);
  req.ref = hub::ledger_ref(intent.ref);
  req.method = intent.method;
  req.operator_name = "hub:" + intent.operator_name;
  req.time = t;
  const auto res = billing::post_payment(db, cfg, req, [&] {
    audit::Entry e;
    e.time = t;
    e.operator_name = req.operator_name;
    e.action = "sell";
    e.subject = intent.account;
    e.detail = fmt::format("office top-up {} (hub intent {}) for {}", intent.ref, intent.id,
                           req.amount.format(cfg.minor_units));
    audit::append(db, e);
  });
  return {res.receipt, res.balance.minor()};
}

} // namespace kwh::daemon
