#include <kwh/ledger/accumulator.hpp>

#include <kwh/storage/database.hpp>
#include <kwh/crypto/sha256.hpp>

#include <fmt/format.h>

namespace kwh::ledger {

namespace {

Accumulator read_row(const storage::Statement& st) {
  return Accumulator{st.get_int(0), st.get_int(1), st.get_text(2), st.get_int(3), st.get_int(4),
                     st.get_int(5), st.get_int(6), st.get_int(7), st.get_int(8)};
}

constexpr const char* k_columns = "account_id, meter_id, band, day, version_id, t0, t1, quantity, amount";

} // namespace

std::string accumulator_hash(const Accumulator& a) {
  // Text fields are length-prefixed so that no value can imitate a separator. Formatted on the
  // stack: kwhd hashes every accumulator it changed at each commit.
  char text[512];
  auto end = fmt::format_to_n(text, sizeof text,
                              "kwh-accumulator-v1\naccount_id={}\nmeter_id={}\nband={}:{}\nday={}\nversion_id={}\n"
                              "t0={}\nt1={}\nquantity={}\namount={}\n",
                              a.account_id, a.meter_id, a.band.size(), a.band, a.day, a.version_id, a.t0, a.t1,
                              a.quantity, a.amount);
  auto d = sha256(std::string_view(text, std::min(end.size, sizeof text)));
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

void save(storage::Database& db, const Accumulator& a) {
  auto& st = db.cached("INSERT OR REPLACE INTO accumulators(account_id, meter_id, band, day, version_id, t0, t1, "
                       "quantity, amount, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  st.bind_all(a.account_id, a.meter_id, a.band, a.day, a.version_id, a.t0, a.t1, a.quantity, a.amount);
  auto hash = accumulator_hash(a);
  st.bind_blob(10, hash.data(), hash.size());
  st.run();
}

void remove(storage::Database& db, std::int64_t account_id, std::int64_t meter_id, const std::string& band) {
  auto& st = db.cached("DELETE FROM accumulators WHERE account_id = ?1 AND meter_id = ?2 AND band = ?3");
  st.bind_all(account_id, meter_id, band);
  st.run();
}

std::vector<Accumulator> open_accumulators(storage::Database& db, std::optional<std::int64_t> account_id,
                                           std::optional<std::int64_t> meter_id) {
  auto& st = db.cached(fmt::format("SELECT {} FROM accumulators WHERE (?1 IS NULL OR account_id = ?1) AND "
                                   "(?2 IS NULL OR meter_id = ?2) ORDER BY account_id, meter_id, band",
                                   k_columns));
  st.bind_all(account_id, meter_id);
  std::vector<Accumulator> out;
  while (st.step()) out.push_back(read_row(st));
  st.reset();
  return out;
}

Entry posting(const Accumulator& a, std::int64_t balance, std::int64_t accrued) {
  Entry e;
  e.account_id = a.account_id;
  e.time = a.t1;
  e.kind = "charge";
  e.amount = -a.amount;
  e.balance = balance;
  e.meter_id = a.meter_id;
  e.t0 = a.t0;
  e.t1 = a.t1;
  e.quantity = a.quantity;
  e.band = a.band;
  if (accrued) e.accrued = accrued;
  return e;
}

int post_open(storage::Database& db, std::optional<std::int64_t> account_id, std::optional<std::int64_t> meter_id,
              std::optional<UnixTime> day_before) {
  int posted = 0;
  for (const auto& a : open_accumulators(db, account_id, meter_id)) {
    if (day_before && a.day >= *day_before) continue;
    auto& bal = db.cached("SELECT balance, (SELECT coalesce(sum(amount), 0) FROM accumulators WHERE account_id = ?1) "
                          "FROM accounts WHERE id = ?1");
    bal.bind(1, a.account_id);
    if (!bal.step()) fail(Exit::no_input, "no such account id {}", a.account_id);
    std::int64_t balance = bal.get_int(0), accrued = bal.get_int(1);
    bal.reset();
    insert(db, posting(a, balance, accrued - a.amount));
    remove(db, a.account_id, a.meter_id, a.band);
    ++posted;
  }
  return posted;
}

std::vector<std::string> verify_hashes(storage::Database& db) {
  std::vector<std::string> findings;
  auto st = db.prepare(fmt::format("SELECT {}, hash, (SELECT name FROM accounts WHERE id = c.account_id), (SELECT name "
                                   "FROM meters WHERE id = c.meter_id) FROM accumulators c ORDER BY account_id, "
                                   "meter_id, band",
                                   k_columns));
  while (st.step()) {
    Accumulator a = read_row(st);
    const std::string which = fmt::format("the accumulator of account {}, meter {}, band {}, {}",
                                          st.get_opt_text(10).value_or("?"), st.get_opt_text(11).value_or("?"), a.band,
                                          format_date(a.day));
    if (st.get_blob(9) != accumulator_hash(a))
      findings.push_back(fmt::format("{} does not match its hash (it was edited behind kwh's back)", which));
    if (a.amount < 0 || a.quantity < 0)
      findings.push_back(fmt::format("{} holds a negative {}", which, a.amount < 0 ? "amount" : "quantity"));
  }
  return findings;
}

} // namespace kwh::ledger
