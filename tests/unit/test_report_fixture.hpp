#pragma once
// A small site for report tests, built with plain SQL so that the reports are tested on their
// own: two gateways, three meters (two electricity, one water), two accounts, and helpers that
// append ledger rows (with a running balance) and daily rollups.

#include "temp_dir.hpp"

#include <kwh/report/report.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/util/time.hpp>

#include <map>
#include <memory>
#include <string>

namespace kwh::test {

// Sets the site zone for one test and puts UTC back afterwards (the unit tests' default).
class SiteZone {
public:
  explicit SiteZone(const std::string& name) { set_site_timezone(name); }
  ~SiteZone() { set_site_timezone("UTC"); }
  SiteZone(const SiteZone&) = delete;
  SiteZone& operator=(const SiteZone&) = delete;
};

class ReportSite {
public:
  ReportSite() {
    m_db = storage::Database::open(m_dir.file("kwh.db"), storage::OpenMode::create);
    storage::migrate(*m_db);
    m_db->exec(R"sql(
INSERT INTO tariffs (id, name, created) VALUES (1, 'flat', 0);
INSERT INTO gateways (id, name, transport, address, status, status_since, created)
  VALUES (1, 'gw-north', 'tcp', '127.0.0.1:5020', 'online', 0, 0),
         (2, 'gw-south', 'rtu-over-tcp', '127.0.0.1:5021', 'offline', 1000, 0);
INSERT INTO meters (id, name, gateway_id, unit, profile, kind, building, status, status_since, created)
  VALUES (1, 'M1', 1, 1, 'eastron-sdm120', 'electricity', 'A', 'online', 0, 0),
         (2, 'W1', 1, 2, 'generic-water', 'water', 'A', 'offline', 2000, 0),
         (3, 'M2', 2, 1, 'eastron-sdm630', 'electricity', 'B', 'unknown', NULL, 0);
INSERT INTO accounts (id, name, holder, tariff_id, alarm1, alarm2, credit_limit, opened)
  VALUES (1, 'A1', 'Noodle bar', 1, 5000, 1000, 0, 0),
         (2, 'A2', 'Print shop', 1, NULL, NULL, 2000, 0);
INSERT INTO assignments (account_id, meter_id, valid_from) VALUES (1, 1, 0), (1, 2, 0), (2, 3, 0);
)sql");
  }

  storage::Database& db() { return *m_db; }

  // Appends a ledger row and keeps accounts.balance equal to the ledger's sum, as billing does.
  void book(std::int64_t account, UnixTime t, const std::string& kind, std::int64_t amount,
            const std::string& op = "alice", const std::string& method = "cash") {
    std::int64_t& balance = m_balance[account];
    balance += amount;
    bool money = kind == "sale" || kind == "refund";
    auto st = m_db->prepare("INSERT INTO ledger (account_id, time, kind, amount, balance, receipt, method, operator, hash) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, x'00')");
    st.bind_all(account, t, kind, amount, balance);
    if (money) st.bind(6, ++m_receipt).bind(7, method).bind(8, op);
    else st.bind_null(6).bind_null(7).bind_null(8);
    st.run();
    auto up = m_db->prepare("UPDATE accounts SET balance = ? WHERE id = ?");
    up.bind_all(balance, account);
    up.run();
  }

  void charge(std::int64_t account, std::int64_t meter, UnixTime t0, UnixTime t1, std::int64_t quantity,
              std::int64_t amount, const std::string& band) {
    std::int64_t& balance = m_balance[account];
    balance -= amount;
    auto st = m_db->prepare("INSERT INTO ledger (account_id, time, kind, amount, balance, meter_id, t0, t1, quantity, "
                            "band, hash) VALUES (?, ?, 'charge', ?, ?, ?, ?, ?, ?, ?, x'00')");
    st.bind_all(account, t1, -amount, balance, meter, t0, t1, quantity, band);
    st.run();
    auto up = m_db->prepare("UPDATE accounts SET balance = ? WHERE id = ?");
    up.bind_all(balance, account);
    up.run();
  }

  void usage(UnixTime day, std::int64_t meter, std::int64_t account, std::int64_t quantity, std::int64_t cost) {
    auto st = m_db->prepare("INSERT INTO daily_usage (day, meter_id, account_id, quantity, cost) VALUES (?, ?, ?, ?, ?)");
    st.bind_all(day, meter, account, quantity, cost);
    st.run();
  }

private:
  TempDir m_dir;
  std::unique_ptr<storage::Database> m_db;
  std::map<std::int64_t, std::int64_t> m_balance;
  std::int64_t m_receipt = 0;
};

// A request as the command line would make it.
inline report::Request request(report::Name name, std::optional<std::string> from = {},
                               std::optional<std::string> to = {}, std::optional<report::By> by = {}) {
  report::Options o;
  o.name = name, o.from = from, o.to = to, o.by = by;
  o.now = parse_time("2026-11-24T12:00:00Z").value();
  return report::prepare(o);
}

// The text of column `col` in row `row`.
inline std::string cell(const output::Table& t, std::size_t row, const std::string& col) {
  for (std::size_t i = 0; i < t.columns.size(); ++i)
    if (t.columns[i].name == col) return t.rows.at(row).at(i).text();
  throw std::runtime_error("no column " + col);
}

} // namespace kwh::test
