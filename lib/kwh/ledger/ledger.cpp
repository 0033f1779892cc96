#include <kwh/ledger/ledger.hpp>

#include <kwh/storage/database.hpp>
#include <kwh/crypto/sha256.hpp>

#include <fmt/format.h>

#include <limits>
#include <map>

namespace kwh::ledger {

namespace {

constexpr const char* k_columns = "id, account_id, time, kind, amount, balance, receipt, method, ref, operator, "
                                  "meter_id, t0, t1, quantity, band, reverses, note, hash, accrued, debt_id";

Entry read_entry(const storage::Statement& st) {
  Entry e;
  e.id = st.get_int(0);
  e.account_id = st.get_int(1);
  e.time = st.get_int(2);
  e.kind = st.get_text(3);
  e.amount = st.get_int(4);
  e.balance = st.get_int(5);
  e.receipt = st.get_opt_int(6);
  e.method = st.get_opt_text(7);
  e.ref = st.get_opt_text(8);
  e.operator_name = st.get_opt_text(9);
  e.meter_id = st.get_opt_int(10);
  e.t0 = st.get_opt_int(11);
  e.t1 = st.get_opt_int(12);
  e.quantity = st.get_opt_int(13);
  e.band = st.get_opt_text(14);
  e.reverses = st.get_opt_int(15);
  e.note = st.get_opt_text(16);
  e.hash = st.is_null(17) ? std::string() : st.get_blob(17);
  e.accrued = st.get_opt_int(18);
  e.debt_id = st.get_opt_int(19);
  return e;
}

void field(std::string& out, const char* name, const std::optional<std::int64_t>& v) {
  out += name;
  out += '=';
  if (v) out += std::to_string(*v);
  out += '\n';
}

// Text fields are length-prefixed so that no value can imitate a field separator.
void field(std::string& out, const char* name, const std::optional<std::string>& v) {
  out += name;
  out += '=';
  if (v) out += fmt::format("{}:{}", v->size(), *v);
  out += '\n';
}

} // namespace

std::string canonical(const Entry& e) {
  std::string out = "kwh-ledger-v1\n";
  field(out, "id", std::optional<std::int64_t>(e.id));
  field(out, "account_id", std::optional<std::int64_t>(e.account_id));
  field(out, "time", std::optional<std::int64_t>(e.time));
  field(out, "kind", std::optional<std::string>(e.kind));
  field(out, "amount", std::optional<std::int64_t>(e.amount));
  field(out, "balance", std::optional<std::int64_t>(e.balance));
  field(out, "receipt", e.receipt);
  field(out, "method", e.method);
  field(out, "ref", e.ref);
  field(out, "operator", e.operator_name);
  field(out, "meter_id", e.meter_id);
  field(out, "t0", e.t0);
  field(out, "t1", e.t1);
  field(out, "quantity", e.quantity);
  field(out, "band", e.band);
  field(out, "reverses", e.reverses);
  field(out, "note", e.note);
  // Added with accumulators, and only when set, so that every entry written before them keeps
  // its hash.
  if (e.accrued) field(out, "accrued", e.accrued);
  // Added with debts, likewise.
  if (e.debt_id) field(out, "debt_id", e.debt_id);
  return out;
}

std::string chain_hash(const std::string& previous_hash, const Entry& e) {
  Sha256 h;
  h.update(previous_hash);
  h.update(canonical(e));
  auto d = h.finish();
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

Entry append(storage::Database& db, Entry e, Head* head) {
  auto& bal = db.cached("SELECT balance, (SELECT coalesce(sum(amount), 0) FROM accumulators WHERE account_id = ?1) "
                        "FROM accounts WHERE id = ?1");
  bal.bind(1, e.account_id);
  if (!bal.step()) fail(Exit::no_input, "no such account id {}", e.account_id);
  std::int64_t before = bal.get_int(0);
  std::int64_t accrued = bal.get_int(1);
  bal.reset();
  if ((e.amount > 0 && before > std::numeric_limits<std::int64_t>::max() - e.amount) ||
      (e.amount < 0 && before < std::numeric_limits<std::int64_t>::min() + 1 - e.amount))
    fail(Exit::data, "the balance would overflow");
  e.balance = before + e.amount;
  e.accrued = accrued ? std::optional<std::int64_t>(accrued) : std::nullopt;
  e = insert(db, std::move(e), head);
  auto& upd = db.cached("UPDATE accounts SET balance = ?2 WHERE id = ?1");
  upd.bind_all(e.account_id, e.balance);
  upd.run();
  return e;
}

Entry insert(storage::Database& db, Entry e, Head* head) {
  Head local;
  if (!head) head = &local;
  if (!head->known) {
    auto& last = db.cached("SELECT id, hash FROM ledger ORDER BY id DESC LIMIT 1");
    head->id = 0;
    head->hash.clear();
    if (last.step()) {
      head->id = last.get_int(0);
      head->hash = last.get_blob(1);
    }
    last.reset();
    head->known = true;
  }
  e.id = head->id + 1;
  e.hash = chain_hash(head->hash, e);

  // debt_id is named only when set, so that an entry without it goes into a ledger of any version.
  auto& ins = e.debt_id ? db.cached("INSERT INTO ledger(id, account_id, time, kind, amount, balance, receipt, method, "
                                    "ref, operator, meter_id, t0, t1, quantity, band, reverses, note, hash, accrued, "
                                    "debt_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
                                    "?15, ?16, ?17, ?18, ?19, ?20)")
                        : db.cached("INSERT INTO ledger(id, account_id, time, kind, amount, balance, receipt, method, "
                                    "ref, operator, meter_id, t0, t1, quantity, band, reverses, note, hash, accrued) "
                                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
                                    "?17, ?18, ?19)");
  ins.bind_all(e.id, e.account_id, e.time, e.kind, e.amount, e.balance, e.receipt, e.method, e.ref,
               e.operator_name, e.meter_id, e.t0, e.t1, e.quantity, e.band, e.reverses, e.note);
  ins.bind_blob(18, e.hash.data(), e.hash.size());
  ins.bind(19, e.accrued);
  if (e.debt_id) ins.bind(20, e.debt_id);
  ins.run();
  head->id = e.id;
  head->hash = e.hash;
  return e;
}

std::optional<Entry> find_by_ref(storage::Database& db, const std::string& ref) {
  auto st = db.prepare(fmt::format("SELECT {} FROM ledger WHERE ref = ?1", k_columns));
  st.bind(1, ref);
  if (!st.step()) return std::nullopt;
  return read_entry(st);
}

std::vector<Entry> entries(storage::Database& db, std::int64_t account_id, std::optional<UnixTime> from,
                           std::optional<UnixTime> to) {
  auto st = db.prepare(fmt::format("SELECT {} FROM ledger WHERE account_id = ?1 AND (?2 IS NULL OR time >= ?2) "
                                   "AND (?3 IS NULL OR time < ?3) ORDER BY id",
                                   k_columns));
  st.bind(1, account_id).bind(2, from).bind(3, to);
  std::vector<Entry> out;
  while (st.step()) out.push_back(read_entry(st));
  return out;
}

std::vector<std::string> verify(storage::Database& db) {
  std::vector<std::string> findings;
  std::string previous;
  std::int64_t previous_id = 0;
  std::map<std::int64_t, std::int64_t> running; // account -> balance so far
  auto st = db.prepare(fmt::format("SELECT {} FROM ledger ORDER BY id", k_columns));
  while (st.step()) {
    Entry e = read_entry(st);
    if (e.id != previous_id + 1)
      findings.push_back(fmt::format("ledger: entry {} follows entry {}: entries are missing", e.id, previous_id));
    if (chain_hash(previous, e) != e.hash)
      findings.push_back(fmt::format("ledger: entry {} does not match its hash: the chain is broken there "
                                     "(an entry was edited, removed or reordered)",
                                     e.id));
    std::int64_t& run = running[e.account_id];
    run += e.amount;
    if (e.accrued && *e.accrued < 0)
      findings.push_back(fmt::format("ledger: entry {} says {} was accrued; it cannot be negative", e.id, *e.accrued));
    if (run - e.accrued.value_or(0) != e.balance)
      findings.push_back(fmt::format("ledger: entry {} of account id {} says balance {} but its entries sum to {}{}",
                                     e.id, e.account_id, e.balance, run,
                                     e.accrued ? fmt::format(" less {} accrued", *e.accrued) : std::string()));
    previous = e.hash;
    previous_id = e.id;
  }
  auto acc = db.prepare("SELECT id, name, balance, carry, (SELECT coalesce(sum(amount), 0) FROM accumulators c "
                        "WHERE c.account_id = a.id) FROM accounts a ORDER BY id");
  while (acc.step()) {
    std::int64_t id = acc.get_int(0);
    std::int64_t sum = running.count(id) ? running[id] : 0;
    std::int64_t open = acc.get_int(4);
    if (acc.get_int(2) != sum - open)
      findings.push_back(fmt::format("account {}: balance {} is not the sum of its ledger entries ({}){} (minor units)",
                                     acc.get_text(1), acc.get_int(2), sum,
                                     open ? fmt::format(" less its open accumulators ({})", open) : std::string()));
    std::int64_t carry = acc.get_int(3);
    if (carry < 0 || carry >= 1'000'000'000)
      findings.push_back(fmt::format("account {}: rounding carry {} is out of range", acc.get_text(1), carry));
  }
  auto dup = db.prepare("SELECT ref, count(*) FROM ledger WHERE ref IS NOT NULL GROUP BY ref HAVING count(*) > 1");
  while (dup.step())
    findings.push_back(fmt::format("ledger: --ref '{}' is used by {} entries", dup.get_text(0), dup.get_int(1)));
  return findings;
}

} // namespace kwh::ledger
