// The reports of credit and debt, as they stand: debts (what each account owes apart from its
// balance, and how it is recovered) and emergency (accounts on emergency credit).

#include <kwh/report/report.hpp>

namespace kwh::report {

using output::Column;
using output::Json;
using output::Kind;
using output::Table;

Table debts(storage::Database& db, const Request& r) {
  const int mu = r.options.minor_units;
  Table t;
  t.columns = {Column{"account"},   Column{"name"},    Column{"debt"},
               Column{"created"},   Column{"amount", Kind::money}, Column{"recovered", Kind::money},
               Column{"remaining", Kind::money},       Column{"recover_share"}, Column{"fixed", Kind::money},
               Column{"every"},     Column{"next_due"}, Column{"note"}};
  // Debts not yet recovered, oldest first per account.
  auto st = db.prepare("SELECT a.name, a.holder, d.id, d.created, d.amount, d.remaining, d.share, d.fixed, d.period, "
                       "CASE WHEN d.fixed IS NULL THEN NULL ELSE d.next_due END, d.note FROM debts d JOIN accounts a ON a.id = d.account_id "
                       "WHERE d.remaining > 0 AND (?1 IS NULL OR a.name = ?1) ORDER BY a.name, d.id");
  if (r.options.account) {
    account_id(db, *r.options.account);
    st.bind(1, *r.options.account);
  } else {
    st.bind_null(1);
  }
  std::int64_t amount = 0, remaining = 0;
  while (st.step()) {
    amount += st.get_int(4);
    remaining += st.get_int(5);
    auto share = st.get_opt_int(6);
    auto fixed = st.get_opt_int(7);
    auto due = st.get_opt_int(9);
    t.add({st.get_text(0), st.get_text(1), st.get_int(2), format_time(st.get_int(3)), money_text(st.get_int(4), mu),
           money_text(st.get_int(4) - st.get_int(5), mu), money_text(st.get_int(5), mu),
           share ? Json(fmt::format("{}%", *share)) : Json(), fixed ? Json(money_text(*fixed, mu)) : Json(),
           st.get_opt_text(8) ? Json(*st.get_opt_text(8)) : Json(), due ? Json(format_time(*due)) : Json(),
           st.get_text(10)});
  }
  t.totals = {"total", "", "", "", money_text(amount, mu), money_text(amount - remaining, mu), money_text(remaining, mu),
              "",      "", "", "", ""};
  return t;
}

Table emergency(storage::Database& db, const Request& r) {
  const int mu = r.options.minor_units;
  Table t;
  t.columns = {Column{"account"}, Column{"name"}, Column{"status", Kind::status}, Column{"balance", Kind::money},
               Column{"owed", Kind::money}, Column{"granted"}, Column{"grants"}};
  // Accounts that owe emergency credit, with their latest grant and how many they have taken.
  auto st = db.prepare(
      "SELECT a.name, a.holder, a.status, a.balance, a.emergency_owed, "
      "(SELECT max(time) FROM ledger l WHERE l.account_id = a.id AND l.kind = 'emergency' AND l.amount > 0), "
      "(SELECT count(*) FROM ledger l WHERE l.account_id = a.id AND l.kind = 'emergency' AND l.amount > 0) "
      "FROM accounts a WHERE a.emergency_owed > 0 AND (?1 IS NULL OR a.name = ?1) ORDER BY a.name");
  if (r.options.account) {
    account_id(db, *r.options.account);
    st.bind(1, *r.options.account);
  } else {
    st.bind_null(1);
  }
  std::int64_t owed = 0;
  while (st.step()) {
    owed += st.get_int(4);
    auto granted = st.get_opt_int(5);
    t.add({st.get_text(0), st.get_text(1), st.get_text(2), money_text(st.get_int(3), mu), money_text(st.get_int(4), mu),
           granted ? Json(format_time(*granted)) : Json(), st.get_int(6)});
  }
  t.totals = {"total", "", "", "", money_text(owed, mu), "", ""};
  return t;
}

} // namespace kwh::report
