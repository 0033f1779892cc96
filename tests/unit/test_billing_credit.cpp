// Emergency credit (billing/credit.hpp): granted by hand or automatically, a loan in the ledger,
// repaid first from the next sale, never twice before it is repaid.

#include "test_billing_fixture.hpp"

#include <kwh/billing/credit.hpp>
#include <kwh/billing/receipt.hpp>
#include <kwh/ledger/ledger.hpp>

#include <doctest/doctest.h>

using namespace kwh;

namespace {

// A site where 1 kWh costs 1.00 (100 minor units) and an account may take 5.00 of emergency credit.
struct Site : test::BillingFixture {
  std::int64_t meter = 0;
  explicit Site(bool automatic = false) {
    config.billing.emergency_credit = Money::from_minor(500);
    config.billing.emergency_credit_auto = automatic;
    meter = add_meter("M1");
    add_flat("std", "1.0000");
    open("A1", "std", {"M1"});
    pay("A1", 1'000);
    ingest(meter, 0, 0); // the baseline
  }
  std::int64_t owed() { return billing::find_account(*db, "A1").emergency_owed; }
  billing::Grant grant() { return billing::grant_emergency(*db, config, "A1", "cashier", clock); }
  std::string relay_commands() {
    std::string out;
    auto st = db->prepare("SELECT action || ':' || reason || ':' || state FROM commands ORDER BY id");
    while (st.step()) out += st.get_text(0) + " ";
    return out;
  }
};

} // namespace

TEST_CASE("Emergency credit: granted once at or below the offer, repaid first from the next sale") {
  Site s;
  // 10.00 of credit: not offered yet.
  CHECK_THROWS_AS(s.grant(), Error);
  CHECK(s.count("SELECT count(*) FROM ledger WHERE kind = 'emergency'") == 0);
  // 10 kWh later the balance is 0: arrears, and the relay is opened.
  s.ingest(s.meter, 3600, 10'000);
  CHECK(s.balance("A1") == 0);
  CHECK(s.status("A1") == "arrears");
  CHECK(s.relay_commands() == "relay_off:arrears:pending ");
  s.db->exec("UPDATE commands SET state = 'done'");
  s.db->exec("UPDATE meters SET relay_state = 'off'");

  auto g = s.grant();
  CHECK(g.amount.minor() == 500);
  CHECK(g.balance.minor() == 500);
  CHECK(g.status == "emergency");
  CHECK(s.owed() == 500);
  // The relay closes again at once, whatever reconnect_above says.
  CHECK(s.relay_commands() == "relay_off:arrears:done relay_on:emergency:pending ");
  CHECK(s.count("SELECT count(*) FROM events WHERE kind = 'emergency_credit' AND account_id = 1") == 1);
  CHECK(s.count("SELECT count(*) FROM events WHERE kind = 'arrears' AND ended IS NULL") == 0);
  // Never twice before it is repaid.
  CHECK_THROWS_AS(s.grant(), Error);
  s.db->exec("UPDATE commands SET state = 'done'");
  s.db->exec("UPDATE meters SET relay_state = 'on'");

  // 3 kWh: still on emergency credit; 5 kWh more: -3.00, arrears again.
  s.ingest(s.meter, 7200, 13'000);
  CHECK(s.balance("A1") == 200);
  CHECK(s.status("A1") == "emergency");
  s.ingest(s.meter, 10800, 18'000);
  CHECK(s.balance("A1") == -300);
  CHECK(s.status("A1") == "arrears");
  CHECK(s.owed() == 500);
  s.db->exec("UPDATE commands SET state = 'done'");
  s.db->exec("UPDATE meters SET relay_state = 'off'");

  // A sale of 10.00: 5.00 repays the emergency credit, 5.00 buys credit; -3.00 + 5.00 = 2.00.
  auto p = s.pay("A1", 1'000, billing::PaymentKind::sale, std::string("till-1"), 11000);
  CHECK(p.emergency_repaid.minor() == 500);
  CHECK(p.balance.minor() == 200);
  CHECK(p.status == "ok");
  CHECK(s.balance("A1") == 200);
  CHECK(s.owed() == 0);
  CHECK(s.relay_commands().find("relay_on:topup:pending") != std::string::npos);
  auto entries = ledger::entries(*s.db, 1);
  REQUIRE(entries.size() >= 2);
  const auto& repay = entries.back();
  CHECK(repay.kind == "emergency");
  CHECK(repay.amount == -500);
  CHECK(repay.note.value_or("").find(fmt::format("receipt {}", p.receipt)) != std::string::npos);
  CHECK(entries[entries.size() - 2].kind == "sale");
  // The receipt shows the split.
  const auto text = billing::format_receipt(p, "CNY", 2);
  CHECK(text.find("Emergency repaid") != std::string::npos);
  CHECK(text.find("CNY 5.00") != std::string::npos);
  // A replay of the sale tells the same split and writes nothing.
  const auto rows = s.count("SELECT count(*) FROM ledger");
  auto again = s.pay("A1", 1'000, billing::PaymentKind::sale, std::string("till-1"), 11000);
  CHECK(again.replayed);
  CHECK(again.emergency_repaid.minor() == 500);
  CHECK(again.balance.minor() == 200);
  CHECK(s.count("SELECT count(*) FROM ledger") == rows);
  // Repaid, it may be taken again once offered.
  s.ingest(s.meter, 14400, 20'000);
  CHECK(s.balance("A1") == 0);
  CHECK(s.grant().balance.minor() == 500);
  CHECK(ledger::verify(*s.db).empty());
  CHECK(s.count("SELECT sum(amount) FROM ledger WHERE kind = 'emergency'") == 500);
}

TEST_CASE("Emergency credit: a sale smaller than what is owed repays what it can") {
  Site s;
  s.ingest(s.meter, 3600, 10'000);
  s.grant();
  s.ingest(s.meter, 7200, 16'000); // -1.00
  auto p = s.pay("A1", 300);
  CHECK(p.emergency_repaid.minor() == 300);
  CHECK(p.balance.minor() == -100);
  CHECK(s.owed() == 200);
  CHECK(s.status("A1") == "arrears");
  auto q = s.pay("A1", 1'000);
  CHECK(q.emergency_repaid.minor() == 200);
  CHECK(q.balance.minor() == 700);
  CHECK(s.owed() == 0);
  CHECK(ledger::verify(*s.db).empty());
}

TEST_CASE("Emergency credit: granted automatically the moment it is offered, with the day's charges exact") {
  Site s(true);
  s.ingest(s.meter, 1800, 4'000);
  CHECK(s.owed() == 0);
  // The reading that takes the balance to 0 takes the emergency credit too: no arrears.
  auto r = s.ingest(s.meter, 3600, 10'000);
  CHECK(s.balance("A1") == 500);
  CHECK(s.status("A1") == "emergency");
  CHECK(s.owed() == 500);
  CHECK(std::count(r.events.begin(), r.events.end(), "emergency_credit") == 1);
  CHECK(s.count("SELECT count(*) FROM events WHERE kind = 'arrears'") == 0);
  CHECK(s.count("SELECT count(*) FROM commands") == 0);
  CHECK(s.count("SELECT count(*) FROM ledger WHERE kind = 'emergency' AND operator = 'kwh' AND amount = 500") == 1);
  // Further readings take it no second time; at -credit_limit the relay opens as ever.
  s.ingest(s.meter, 5400, 14'000);
  s.ingest(s.meter, 7200, 15'000);
  CHECK(s.balance("A1") == 0);
  CHECK(s.status("A1") == "arrears");
  CHECK(s.count("SELECT count(*) FROM ledger WHERE kind = 'emergency'") == 1);
  CHECK(s.relay_commands() == "relay_off:arrears:pending ");
  // The grant's entry says what the day's open charges held: the chain and balances verify.
  CHECK(ledger::verify(*s.db).empty());
  s.clock = 3 * 86400;
  s.post_days();
  CHECK(ledger::verify(*s.db).empty());
  CHECK(s.count("SELECT -sum(amount) FROM ledger WHERE kind = 'charge'") == 1'500);
}

TEST_CASE("Emergency credit: not the tenant's to refund; repaid at closing") {
  Site s;
  s.ingest(s.meter, 3600, 10'000);
  s.grant();
  s.pay("A1", 200); // repays 2.00 of it
  CHECK(s.owed() == 300);
  CHECK(s.balance("A1") == 500);
  // 5.00 of balance, 3.00 of it owed: 2.00 may be refunded.
  CHECK_THROWS_AS(s.pay("A1", 201, billing::PaymentKind::refund), Error);
  CHECK(s.pay("A1", 200, billing::PaymentKind::refund).balance.minor() == 300);
  auto c = billing::close_account(*s.db, s.config, "A1", true, "admin", 20000);
  CHECK(!c.refund);
  CHECK(s.balance("A1") == 0);
  CHECK(s.owed() == 0);
  CHECK(s.status("A1") == "closed");
  CHECK(ledger::verify(*s.db).empty());
}

TEST_CASE("Emergency credit: none configured, none granted; an account's own amount wins") {
  test::BillingFixture f;
  f.add_flat("std", "1.0000");
  f.open("A1", "std", {});
  CHECK_THROWS_AS(billing::grant_emergency(*f.db, f.config, "A1", "c", 0), Error);
  billing::OpenAccount r;
  r.id = "A2";
  r.holder = "h";
  r.tariff = "std";
  r.emergency_credit = Money::from_minor(250);
  {
    storage::Transaction tx(*f.db);
    billing::open_account(*f.db, r);
    tx.commit();
  }
  CHECK(billing::grant_emergency(*f.db, f.config, "A2", "c", 0).amount.minor() == 250);
  CHECK(f.balance("A2") == 250);
}
