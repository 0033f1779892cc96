// kwh sell and kwh refund: money in and out of an account.

#include "context.hpp"

#include <kwh/billing/payment.hpp>
#include <kwh/billing/receipt.hpp>
#include <kwh/util/time.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
              << r.account << "; balance " << r.balance.format(mu) << (r.replayed ? " (replayed, nothing written)" : "")
              << "\n";
  }
}

// --receipt FILE is made ready before the payment, so that a receipt that cannot be written
// stops the command before anything is written. A file is written as a new file beside it and
// renamed onto it once the payment is committed, so that a payment that fails leaves an
// existing FILE as it was; a device (a receipt printer such as /dev/usb/lp0) or a pipe is
// opened before and written after.
class ReceiptFile {
public:
  explicit ReceiptFile(std::string path) : m_path(std::move(path)) {
    // A symbolic link is followed: the file it names is the one replaced.
    if (char* real = ::realpath(m_path.c_str(), nullptr)) {
      m_path = real;
      std::free(real);
    }
    struct stat st{};
    const bool exists = ::stat(m_path.c_str(), &st) == 0;
    if (exists && S_ISDIR(st.st_mode))
      fail(Exit::failed, "cannot write the receipt {}: it is a folder; nothing written", m_path);
    if (exists && !S_ISREG(st.st_mode)) {
      m_fd = ::open(m_path.c_str(), O_WRONLY | O_CLOEXEC);
    } else {
      m_tmp = m_path + ".XXXXXX";
      m_fd = ::mkostemp(m_tmp.data(), O_CLOEXEC);
      if (m_fd >= 0) {
        mode_t mask = ::umask(0);
        ::umask(mask);
        ::fchmod(m_fd, 0666 & ~mask); // as an ordinary new file would be, not mkstemp's 0600
      }
    }
    if (m_fd < 0) fail(Exit::failed, "cannot write the receipt {}: {}; nothing written", m_path, std::strerror(errno));
  }
  ReceiptFile(const ReceiptFile&) = delete;
  ReceiptFile& operator=(const ReceiptFile&) = delete;
  ~ReceiptFile() {
    if (m_fd >= 0) ::close(m_fd);
    if (!m_done && !m_tmp.empty()) ::unlink(m_tmp.c_str());
  }

  void commit(const billing::PaymentResult& r, const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::write(m_fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    bool ok = done == text.size() && ::close(m_fd) == 0;
    m_fd = -1;
    if (ok && !m_tmp.empty()) ok = std::rename(m_tmp.c_str(), m_path.c_str()) == 0;
    if (!ok)
      fail(Exit::failed, "receipt {} written to the ledger, but the file {} could not be written: {}", r.receipt,
           m_path, std::strerror(errno));
    m_done = true;
  }

private:
  std::string m_path, m_tmp; // m_tmp: the new file beside m_path, when it is a file
  int m_fd = -1;
  bool m_done = false;
};

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
      std::optional<ReceiptFile> file;
      if (o->receipt && *o->receipt != "-") file.emplace(*o->receipt);
      auto res = billing::post_payment(ctx.db(), ctx.config(), r, [&ctx] { ctx.audit_now(); });
      if (res.replayed) ctx.audit_written = true; // nothing was written, so nothing to record
      std::string text;
      if (o->receipt) text = billing::format_receipt(res, ctx.config().currency, ctx.minor_units());
      if (o->receipt && *o->receipt == "-") {
        std::cout << text;
        return 0;
      }
      print_result(ctx, res);
      if (file) file->commit(res, text);
      return 0;
    };
  });
}

} // namespace

void add_sell(CLI::App& app, Context& ctx) { add_payment(app, ctx, billing::PaymentKind::sale); }
void add_refund(CLI::App& app, Context& ctx) { add_payment(app, ctx, billing::PaymentKind::refund); }

} // namespace kwh::cli
