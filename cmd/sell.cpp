// kwh sell and kwh refund: money in and out of an account.

#include "context.hpp"

#include <kwh/billing/payment.hpp>
#include <kwh/billing/receipt.hpp>
#include <kwh/output/file.hpp>
#include <kwh/util/time.hpp>

namespace kwh::cli {

namespace {

// The operator authorize() found; the login name when run without it (tests).
std::string operator_of(const Context& ctx) {
  return ctx.operator_name.empty() ? billing::operator_name() : ctx.operator_name;
}

struct PaymentOptions {
  std::string account, amount;
  std::optional<std::string> ref, receipt;
  std::string method = "cash";
};

void print_result(Context& ctx, const billing::PaymentResult& r) {
  int mu = ctx.minor_units();
  if (ctx.format() == output::Format::json) {
    auto o = output::Json::object();
    o.set("receipt", r.receipt);
    o.set("account", r.account);
    o.set("kind", billing::kind_name(r.kind));
    o.set("amount", r.amount.format(mu));
    o.set("balance", r.balance.format(mu));
    o.set("emergency_repaid", r.emergency_repaid.format(mu));
    o.set("debt_recovered", r.debt_recovered.format(mu));
    o.set("ref", r.ref ? output::Json(*r.ref) : output::Json());
    o.set("replayed", r.replayed);
    o.set("method", r.method);
    o.set("status", r.status);
    o.set("time", format_time(r.time));
    o.set("operator", r.operator_name);
    ctx.print(o);
  } else if (ctx.quiet) {
    ctx.out() << r.receipt << '\n';
  } else {
    ctx.out() << "receipt " << r.receipt << ": " << (r.kind == billing::PaymentKind::sale ? "sold " : "refunded ")
              << r.amount.format(mu) << (r.kind == billing::PaymentKind::sale ? " to " : " from ") << "account "
              << r.account
              << (r.emergency_repaid.is_zero() ? std::string()
                                               : "; emergency credit repaid " + r.emergency_repaid.format(mu))
              << (r.debt_recovered.is_zero() ? std::string() : "; debt recovered " + r.debt_recovered.format(mu))
              << "; balance " << r.balance.format(mu) << (r.replayed ? " (replayed, nothing written)" : "")
              << "\n";
  }
}

// --receipt FILE is opened before the payment (output::OutputFile: a link or a folder is
// refused, a device such as a receipt printer or a FIFO is opened as it is), so that a receipt
// that cannot be written stops the command before anything is written; it is written once the
// payment is committed, a file as a new file renamed onto FILE, so that a payment that fails
// leaves an existing FILE as it was.
void write_receipt(output::OutputFile& file, const billing::PaymentResult& r, const std::string& text) {
  try {
    file.write(text);
    file.commit();
  } catch (const Error& e) {
    fail(Exit::failed, "receipt {} written to the ledger, but {}", r.receipt, e.what());
  }
}

void add_payment(CLI::App& app, Context& ctx, billing::PaymentKind kind) {
  bool sale = kind == billing::PaymentKind::sale;
  auto o = std::make_shared<PaymentOptions>();
  auto* sub = app.add_subcommand(sale ? "sell" : "refund", sale ? "sell credit to an account"
                                                                 : "refund credit from an account (at most its balance)");
  sub->add_option("account", o->account, "the account ID")->required()->type_name("ACCOUNT");
  sub->add_option("amount", o->amount, "the amount, e.g. 200 or 200.50")->required()->type_name("MONEY");
  sub->add_option("--ref", o->ref, "idempotency key: the same key again replays the first result")
      ->type_name("KEY");
  if (sale)
    sub->add_option("--method", o->method, "how it was paid (default cash)")
        ->type_name("cash|card|transfer|online")
        ->check(CLI::IsMember({"cash", "card", "transfer", "online"}));
  sub->add_option("--receipt", o->receipt, "write the three-part receipt to FILE, or - for standard output")
      ->type_name("FILE|-");
  sub->callback([&ctx, o, kind] {
    ctx.action = [&ctx, o, kind] {
      billing::PaymentRequest r;
      r.account = o->account;
      r.kind = kind;
      r.amount = ctx.parse_money(o->amount, true);
      r.ref = o->ref;
      r.method = o->method;
      r.operator_name = operator_of(ctx);
      r.time = now();
      std::optional<output::OutputFile> file;
      if (o->receipt && *o->receipt != "-") file.emplace(*o->receipt, "the receipt ");
      auto res = billing::post_payment(ctx.db(), ctx.config(), r, [&ctx] { ctx.audit_now(); });
      if (res.replayed) ctx.audit_written = true; // nothing was written, so nothing to record
      std::string text;
      if (o->receipt) text = billing::format_receipt(res, ctx.config().currency, ctx.minor_units());
      if (o->receipt && *o->receipt == "-") {
        std::cout << text;
        return 0;
      }
      print_result(ctx, res);
      if (file) write_receipt(*file, res, text);
      return 0;
    };
  });
}

} // namespace

void add_sell(CLI::App& app, Context& ctx) { add_payment(app, ctx, billing::PaymentKind::sale); }
void add_refund(CLI::App& app, Context& ctx) { add_payment(app, ctx, billing::PaymentKind::refund); }

} // namespace kwh::cli
