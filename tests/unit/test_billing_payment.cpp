#include <doctest/doctest.h>

#include "test_billing_fixture.hpp"

#include <kwh/billing/receipt.hpp>
#include <kwh/billing/status.hpp>
#include <kwh/ledger/ledger.hpp>

#include <sstream>
#include <thread>

using namespace kwh;
using namespace kwh::billing;

namespace {

Exit code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return Exit::ok;
}

} // namespace

TEST_CASE("Ledger: a replayed --ref writes nothing and returns the first result") {
  test::BillingFixture f;
  f.add_flat("std", "1.0000");
  f.open("A1", "std", {});
  auto first = f.pay("A1", 20'050, PaymentKind::sale, std::string("pos-1"), 100);
  CHECK_FALSE(first.replayed);
  CHECK(first.receipt == 1);
  f.pay("A1", 1'000, PaymentKind::sale, {}, 200);
  auto again = f.pay("A1", 20'050, PaymentKind::sale, std::string("pos-1"), 300);
  CHECK(again.replayed);
  CHECK(again.receipt == 1);
  CHECK(again.balance.minor() == 20'050); // the balance after the first, not now
  CHECK(again.time == 100);
  CHECK(f.count("SELECT count(*) FROM ledger") == 2);
  CHECK(f.balance("A1") == 21'050);
  CHECK(f.count("SELECT value FROM sequences WHERE name = 'receipt'") == 2);
}

TEST_CASE("Ledger: the same --ref with a different amount, account or kind is a conflict that writes nothing") {
  test::BillingFixture f;
  f.add_flat("std", "1.0000");
  f.open("A1", "std", {});
  f.open("A2", "std", {});
  f.pay("A1", 5'000, PaymentKind::sale, std::string("k"));
  CHECK(code_of([&] { f.pay("A1", 5'001, PaymentKind::sale, std::string("k")); }) == Exit::data);
  CHECK(code_of([&] { f.pay("A2", 5'000, PaymentKind::sale, std::string("k")); }) == Exit::data);
  CHECK(code_of([&] { f.pay("A1", 5'000, PaymentKind::refund, std::string("k")); }) == Exit::data);
  CHECK(f.count("SELECT count(*) FROM ledger") == 1);
  CHECK(f.count("SELECT value FROM sequences WHERE name = 'receipt'") == 1);
}

TEST_CASE("Ledger: two writers racing with one --ref write exactly one entry; the other replays") {
  test::BillingFixture f;
  f.add_flat("std", "1.0000");
  f.open("A1", "std", {});
  std::string path = f.dir.file("kwh.db");
  std::vector<PaymentResult> results(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      auto db = storage::Database::open(path);
      PaymentRequest r;
      r.account = "A1";
      r.amount = Money::from_minor(10'000);
      r.ref = "race";
      r.operator_name = "t";
      results[static_cast<std::size_t>(i)] = post_payment(*db, f.config, r);
    });
  for (auto& t : threads) t.join();
  int written = 0;
  for (const auto& r : results) {
    written += r.replayed ? 0 : 1;
    CHECK(r.receipt == 1);
    CHECK(r.balance.minor() == 10'000);
  }
  CHECK(written == 1);
  CHECK(f.count("SELECT count(*) FROM ledger") == 1);
  CHECK(f.balance("A1") == 10'000);
}

TEST_CASE("Ledger: refunds never exceed the balance; bad amounts and closed or unknown accounts are errors") {
  test::BillingFixture f;
  f.add_flat("std", "1.0000");
  f.open("A1", "std", {});
  f.pay("A1", 5'000);
  CHECK(code_of([&] { f.pay("A1", 5'001, PaymentKind::refund); }) == Exit::data);
  CHECK(code_of([&] { f.pay("A1", 0); }) == Exit::data);
  CHECK(code_of([&] { f.pay("A9", 100); }) == Exit::no_input);
  auto r = f.pay("A1", 5'000, PaymentKind::refund);
  CHECK(r.balance.minor() == 0);
  CHECK(f.count("SELECT amount FROM ledger WHERE kind = 'refund'") == -5'000);
  close_account(*f.db, f.config, "A1", false, "t", 10);
  CHECK(f.status("A1") == "closed");
  CHECK(code_of([&] { f.pay("A1", 100); }) == Exit::data);
  CHECK(f.count("SELECT count(*) FROM events WHERE kind = 'account_closed'") == 1);
}

TEST_CASE("Ledger: closing needs a zero balance, or --refund pays it out") {
  test::BillingFixture f;
  f.add_meter("M1");
  f.add_flat("std", "1.0000");
  f.open("A1", "std", {"M1"});
  f.pay("A1", 1'234);
  CHECK(code_of([&] { close_account(*f.db, f.config, "A1", false, "t", 10); }) == Exit::data);
  CHECK(f.status("A1") != "closed");
  auto res = close_account(*f.db, f.config, "A1", true, "t", 10);
  REQUIRE(res.refund);
  CHECK(res.refund->amount.minor() == 1'234);
  CHECK(f.balance("A1") == 0);
  CHECK(f.status("A1") == "closed");
  CHECK(f.count("SELECT count(*) FROM assignments WHERE valid_to IS NULL") == 0);
  // The meter is free for another account.
  f.open("A2", "std", {"M1"}, 20);
  CHECK(ledger::verify(*f.db).empty());
}

TEST_CASE("Ledger: the receipt has three copies, each no wider than 42 columns") {
  PaymentResult p;
  p.receipt = 42;
  p.account = "SHOP-17";
  p.holder = "A customer with a rather long name for a receipt printer";
  p.amount = Money::from_minor(20'050);
  p.balance = Money::from_minor(30'000);
  p.method = "card";
  p.operator_name = "alice";
  p.time = 1'800'000'000;
  std::string text = format_receipt(p, "CNY", 2);
  std::istringstream in(text);
  std::string line;
  int copies = 0;
  while (std::getline(in, line)) {
    CHECK(line.size() <= 42);
    if (line.find("COPY") != std::string::npos) ++copies;
  }
  CHECK(copies == 3);
  CHECK(text.find("CUSTOMER COPY") != std::string::npos);
  CHECK(text.find("CASHIER COPY") != std::string::npos);
  CHECK(text.find("ACCOUNTING COPY") != std::string::npos);
  CHECK(text.find("CNY 200.50") != std::string::npos);
  CHECK(text.find("CNY 300.00") != std::string::npos);
  CHECK(text.find("alice") != std::string::npos);
}

TEST_CASE("Ledger: a sale that lifts an account out of arrears queues relay_on for the meters arrears opened") {
  test::BillingFixture f;
  auto m = f.add_meter("M1");
  f.add_flat("std", "1.0000");
  f.open("A1", "std", {"M1"});
  f.pay("A1", 1'000);
  f.ingest(m, 0, 0);
  f.ingest(m, 3600, 20'000); // 20.00 charged: balance -10.00
  CHECK(f.status("A1") == "arrears");
  CHECK(f.count("SELECT count(*) FROM commands WHERE action = 'relay_off' AND reason = 'arrears'") == 1);
  f.db->exec("UPDATE commands SET state = 'done'");
  f.db->exec("UPDATE meters SET relay_state = 'off'");
  auto small = f.pay("A1", 500); // -5.00: still arrears
  CHECK(small.commands.empty());
  auto r = f.pay("A1", 1'000); // 5.00 > reconnect_above 0
  REQUIRE(r.commands.size() == 1);
  CHECK(f.count("SELECT count(*) FROM commands WHERE action = 'relay_on' AND reason = 'topup'") == 1);
  CHECK(f.count("SELECT count(*) FROM meters WHERE relay_reason IS NULL") == 1);
  CHECK(f.status("A1") == "ok");
}
