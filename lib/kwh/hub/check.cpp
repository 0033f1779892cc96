#include <kwh/hub/check.hpp>

#include <kwh/crypto/hmac.hpp>

#include <fmt/format.h>

namespace kwh::hub {

namespace {

constexpr int k_page = 5000;

} // namespace

void LedgerChecker::add(const ledger::Entry& e, std::vector<std::string>& problems) {
  const std::string where = fmt::format("site {}: ledger entry {}", m_site, e.id);
  // The chain: from the site's first entry, or from the first the hub holds.
  if (!m_started) m_whole = e.id == 1;
  const bool chained = m_started ? e.id == m_previous_id + 1 : e.id == 1;
  if (m_started && e.id != m_previous_id + 1)
    problems.push_back(fmt::format("{} follows entry {}: entries {} to {} are missing at the hub", where,
                                   m_previous_id, m_previous_id + 1, e.id - 1));
  if (chained && ledger::chain_hash(m_previous_hash, e) != e.hash)
    problems.push_back(fmt::format("{} does not match its hash: the row was changed at the hub (or the chain is "
                                   "broken there)",
                                   where));
  // The balance: what the account's entries sum to, less what was accrued right after.
  auto found = m_running.find(e.account_id);
  if (found == m_running.end()) {
    // The account's first entry at the hub: from zero when the ledger is whole, else as it says.
    const std::int64_t before = m_whole ? 0 : e.balance + e.accrued.value_or(0) - e.amount;
    found = m_running.emplace(e.account_id, before).first;
  }
  found->second += e.amount;
  if (found->second - e.accrued.value_or(0) != e.balance)
    problems.push_back(fmt::format("{} of account id {} says balance {} but the account's entries sum to {}{}", where,
                                   e.account_id, e.balance, found->second,
                                   e.accrued ? fmt::format(" less {} accrued", *e.accrued) : std::string()));
  m_started = true;
  m_previous_id = e.id;
  m_previous_hash = e.hash;
}

std::vector<std::string> check_site(PgConnection& conn, const std::string& site_id) {
  std::vector<std::string> problems;
  auto site = conn.exec("SELECT last_seq FROM sites WHERE site_id = $1", {site_id});
  if (site.rows() == 0) fail(Exit::no_input, "the hub knows no site {}", site_id);
  const std::int64_t last_seq = site.integer(0, 0);

  // The seq numbers: 1 to last_seq, each once (the primary key makes "once").
  auto gaps = conn.exec("SELECT prev + 1, seq - 1 FROM (SELECT seq, lag(seq, 1, 0::bigint) OVER (ORDER BY seq) AS prev "
                        "FROM site_rows WHERE site_id = $1) s WHERE seq <> prev + 1 ORDER BY seq",
                        {site_id});
  for (int i = 0; i < gaps.rows(); ++i)
    problems.push_back(fmt::format("site {}: rows seq {} to {} are missing at the hub", site_id, gaps.integer(i, 0),
                                   gaps.integer(i, 1)));
  auto top = conn.exec("SELECT coalesce(max(seq), 0) FROM site_rows WHERE site_id = $1", {site_id});
  if (top.integer(0, 0) != last_seq)
    problems.push_back(fmt::format("site {}: the newest row is seq {} but sites.last_seq says {}", site_id,
                                   top.integer(0, 0), last_seq));

  // The ledger, a page at a time in id order.
  LedgerChecker checker(site_id);
  std::int64_t after = 0;
  for (;;) {
    auto r = conn.exec("SELECT id, account_id, time, kind, amount, balance, receipt, method, ref, operator, meter_id, "
                       "t0, t1, quantity, band, reverses, note, hash, accrued, debt_id FROM ledger "
                       "WHERE site_id = $1 AND id > $2::bigint ORDER BY id LIMIT $3::integer",
                       {site_id, std::to_string(after), std::to_string(k_page)});
    for (int i = 0; i < r.rows(); ++i) {
      ledger::Entry e;
      e.id = r.integer(i, 0);
      e.account_id = r.integer(i, 1);
      e.time = r.integer(i, 2);
      e.kind = r.text(i, 3);
      e.amount = r.integer(i, 4);
      e.balance = r.integer(i, 5);
      e.receipt = r.opt_integer(i, 6);
      e.method = r.opt_text(i, 7);
      e.ref = r.opt_text(i, 8);
      e.operator_name = r.opt_text(i, 9);
      e.meter_id = r.opt_integer(i, 10);
      e.t0 = r.opt_integer(i, 11);
      e.t1 = r.opt_integer(i, 12);
      e.quantity = r.opt_integer(i, 13);
      e.band = r.opt_text(i, 14);
      e.reverses = r.opt_integer(i, 15);
      e.note = r.opt_text(i, 16);
      auto raw = crypto::from_hex(r.text(i, 17));
      if (!raw) problems.push_back(fmt::format("site {}: ledger entry {} has a hash that is not hex", site_id, e.id));
      e.hash = raw.value_or("");
      e.accrued = r.opt_integer(i, 18);
      e.debt_id = r.opt_integer(i, 19);
      checker.add(e, problems);
      after = e.id;
    }
    if (r.rows() < k_page) break;
  }
  return problems;
}

} // namespace kwh::hub
