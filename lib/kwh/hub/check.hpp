#pragma once
// `kwh hub check`: what the hub holds of a site, proved on the hub alone. The hub's rows carry
// every column the site's ledger hashes, so the site's own chain (ledger::chain_hash over the
// previous entry's hash and the entry) is recomputed and compared; each account's rows in id
// order must follow from each other (balance + accrued moves by amount, as ledger::verify
// proves at the site); and the site's rows must have no gap in seq from 1 to sites.last_seq.

#include <kwh/hub/pg.hpp>
#include <kwh/ledger/ledger.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kwh::hub {

// Checks one site's ledger rows given in id order (pure: the unit tests feed it rows). The
// first row chains onto `previous_hash` (raw bytes; empty: the site's first entry) when it is
// the site's entry 1 or follows `previous_id`; a ledger that starts later at the hub (entries
// written before the site had an outbox) is taken as it stands from its first row.
class LedgerChecker {
public:
  explicit LedgerChecker(std::string site_id) : m_site(std::move(site_id)) {}
  // One line per problem found in this row.
  void add(const ledger::Entry& e, std::vector<std::string>& problems);

private:
  std::string m_site;
  bool m_started = false;
  bool m_whole = false; // the hub holds the site's ledger from entry 1
  std::int64_t m_previous_id = 0;
  std::string m_previous_hash;
  std::map<std::int64_t, std::int64_t> m_running; // account -> sum of amounts (balance + accrued)
};

// Every problem of a site at the hub, one line each; empty: clean.
std::vector<std::string> check_site(PgConnection& conn, const std::string& site_id);

} // namespace kwh::hub
