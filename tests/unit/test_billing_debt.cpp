// Debts (billing/debt.hpp): recovered as a share of sales within the cap that always buys
// energy, after emergency credit; by fixed amounts when they fall due; proved by verify_debts.

#include "test_billing_fixture.hpp"

#include <kwh/billing/credit.hpp>
#include <kwh/billing/debt.hpp>
#include <kwh/billing/standing.hpp>
#include <kwh/ledger/ledger.hpp>

#include <doctest/doctest.h>

using namespace kwh;

namespace {

struct Site : test::BillingFixture {
  Site() {
    add_flat("std", "1.0000");
    open("A1", "std", {});
  }
  billing::Debt debt(std::int64_t amount, std::optional<int> share, std::optional<std::int64_t> fixed = {},
                     billing::DebtPeriod period = billing::DebtPeriod::none, UnixTime time = 0) {
    billing::NewDebt r;
    r.account = "A1";
    r.amount = Money::from_minor(amount);
    r.note = "arrears";
    r.share = share;
    if (fixed) r.fixed = Money::from_minor(*fixed);
    r.period = period;
    r.time = time;
    storage::Transaction tx(*db);
    auto d = billing::add_debt(*db, config, r);
    tx.commit();
    return d;
  }
  std::int64_t remaining(std::int64_t id) {
    return count(fmt::format("SELECT remaining FROM debts WHERE id = {}", id));
  }
};

} // namespace

TEST_CASE("Debts: a share of each sale, oldest debt first, never more than the cap leaves for energy") {
  Site s;
  auto d1 = s.debt(1'000, 30);
  auto d2 = s.debt(5'000, 40);
  CHECK(s.balance("A1") == 0); // recording a debt moves no balance
  // A sale of 100.00: debt 1 asks 30.00 (it owes only 10.00), debt 2 asks 40.00; the cap is 50 %
  // of the sale, 50.00: 10.00 + 40.00.
  auto p = s.pay("A1", 10'000);
  CHECK(p.debt_recovered.minor() == 5'000);
  CHECK(p.balance.minor() == 5'000);
  CHECK(s.remaining(d1.id) == 0);
  CHECK(s.remaining(d2.id) == 1'000);
  CHECK(s.count("SELECT count(*) FROM ledger WHERE kind = 'debt' AND debt_id IS NOT NULL") == 2);
  // The cap binds: at 90 % for energy, 10.00 of a sale of 100.00 goes to debt.
  s.config.billing.debt_min_energy_share = 90;
  auto q = s.pay("A1", 10'000);
  CHECK(q.debt_recovered.minor() == 1'000);
  CHECK(s.remaining(d2.id) == 0);
  CHECK(s.balance("A1") == 5'000 + 9'000);
  CHECK(ledger::verify(*s.db).empty());
  CHECK(billing::verify_debts(*s.db).empty());
  // A replay tells the split again.
  s.config.billing.debt_min_energy_share = 50;
  s.debt(10'000, 100);
  auto first = s.pay("A1", 2'001, billing::PaymentKind::sale, std::string("r-1"));
  CHECK(first.debt_recovered.minor() == 1'000); // 20.01 * 50 %, rounded down
  auto again = s.pay("A1", 2'001, billing::PaymentKind::sale, std::string("r-1"));
  CHECK(again.replayed);
  CHECK(again.debt_recovered.minor() == 1'000);
  CHECK(again.balance.minor() == first.balance.minor());
}

TEST_CASE("Debts: emergency credit is repaid first, the share is of what is left") {
  Site s;
  s.config.billing.emergency_credit = Money::from_minor(1'000);
  billing::grant_emergency(*s.db, s.config, "A1", "c", 0);
  s.debt(10'000, 50);
  auto p = s.pay("A1", 5'000);
  CHECK(p.emergency_repaid.minor() == 1'000);
  CHECK(p.debt_recovered.minor() == 2'000); // 50 % of 40.00
  CHECK(p.balance.minor() == 1'000 + 5'000 - 1'000 - 2'000);
  CHECK(ledger::verify(*s.db).empty());
}

TEST_CASE("Debts: fixed recoveries fall due weekly, each once, and stop when it is recovered") {
  Site s;
  s.pay("A1", 10'000);
  const UnixTime t0 = 1'000'000;
  auto d = s.debt(2'500, std::nullopt, 1'000, billing::DebtPeriod::week, t0);
  REQUIRE(d.next_due);
  CHECK(*d.next_due == add_local_days(t0, 7)); // the start of the day a week on
  auto charge = [&](UnixTime until) {
    storage::Transaction tx(*s.db);
    auto n = billing::charge_debts_due(*s.db, s.config, until);
    tx.commit();
    return n;
  };
  CHECK(charge(t0 + 6 * 86400) == 0);
  CHECK(charge(t0 + 15 * 86400) == 2'000); // two weeks due
  CHECK(charge(t0 + 15 * 86400) == 0);     // never twice
  CHECK(charge(t0 + 100 * 86400) == 500);  // what is left, then nothing
  CHECK(s.remaining(d.id) == 0);
  CHECK(s.balance("A1") == 10'000 - 2'500);
  CHECK(s.count("SELECT count(*) FROM ledger WHERE kind = 'debt'") == 3);
  CHECK(billing::verify_debts(*s.db).empty());
  // Tampering with what remains is found.
  s.db->exec("UPDATE debts SET remaining = 100");
  CHECK(billing::verify_debts(*s.db).size() == 1);
}

TEST_CASE("Debts: bad requests write nothing") {
  Site s;
  CHECK_THROWS_AS(s.debt(0, 10), Error);
  CHECK_THROWS_AS(s.debt(100, 0), Error);
  CHECK_THROWS_AS(s.debt(100, 101), Error);
  CHECK_THROWS_AS(s.debt(100, std::nullopt), Error);
  CHECK_THROWS_AS(s.debt(100, std::nullopt, 10), Error); // fixed without a period
  CHECK(s.count("SELECT count(*) FROM debts") == 0);
}

TEST_CASE("Debts: standing charges due while the relay is open for arrears accrue as a debt, never twice") {
  test::BillingFixture f;
  auto m = f.add_meter("M1");
  f.add_tariff("daily", "effective = \"2026-01-01\"\nprice = \"1.0000\"\nstanding_charge = \"1.50\"\n"
                        "standing_period = \"day\"\n");
  const UnixTime opened = *parse_time("2026-03-01T10:00:00Z");
  const UnixTime day = 86400;
  f.open("A1", "daily", {"M1"}, opened);
  // In arrears, its relay opened by kwh.
  f.db->exec("UPDATE accounts SET status = 'arrears'");
  f.db->prepare("UPDATE meters SET relay_state = 'off', relay_reason = 'arrears' WHERE id = ?1").bind(1, m).run();
  auto charge = [&](UnixTime until) {
    storage::Transaction tx(*f.db);
    auto n = billing::charge_standing_all(*f.db, f.config, until);
    tx.commit();
    return n;
  };
  CHECK(charge(opened + 3 * day) == 0); // nothing to the balance
  CHECK(f.balance("A1") == 0);
  CHECK(f.count("SELECT count(*) FROM ledger WHERE kind = 'standing'") == 0);
  CHECK(f.count("SELECT amount FROM debts WHERE kind = 'standing'") == 450);
  CHECK(charge(opened + 3 * day) == 0); // never twice
  CHECK(f.count("SELECT amount FROM debts WHERE kind = 'standing'") == 450);
  CHECK(f.count("SELECT count(*) FROM debts") == 1);
  // A top-up recovers it within the cap; the relay closed again, the next day is charged as ever.
  auto p = f.pay("A1", 10'000, billing::PaymentKind::sale, std::nullopt, opened + 3 * day + 60);
  CHECK(p.debt_recovered.minor() == 450);
  CHECK(p.balance.minor() == 10'000 - 450);
  f.db->exec("UPDATE meters SET relay_state = 'on', relay_reason = NULL");
  CHECK(charge(opened + 4 * day) == 150);
  CHECK(f.count("SELECT count(*) FROM ledger WHERE kind = 'standing'") == 1);
  CHECK(billing::verify_debts(*f.db).empty());
  CHECK(ledger::verify(*f.db).empty());
  // "balance" keeps them on the balance.
  f.config.billing.standing_while_disconnected_debt = false;
  f.db->exec("UPDATE accounts SET status = 'arrears'");
  f.db->exec("UPDATE meters SET relay_state = 'off', relay_reason = 'arrears'");
  CHECK(charge(opened + 5 * day) == 150);
}
