#pragma once
// A database with a gateway, meters, a tariff and accounts, made with plain SQL and the billing
// library, for the billing and ledger tests.

#include "temp_dir.hpp"

#include <kwh/billing/account.hpp>
#include <kwh/billing/biller.hpp>
#include <kwh/billing/payment.hpp>
#include <kwh/billing/tariff.hpp>
#include <kwh/config/config.hpp>
#include <kwh/storage/database.hpp>

#include <memory>
#include <string>

namespace kwh::test {

class BillingFixture {
public:
  // `schema`: the version to create (an older one, for tests of an upgrade); default the latest.
  explicit BillingFixture(std::optional<int> schema = std::nullopt) {
    db = storage::Database::open(dir.file("kwh.db"), storage::OpenMode::create);
    storage::migrate(*db, schema);
    // Tests need no durability across power loss; skipping fsync keeps the property test quick.
    db->exec("PRAGMA synchronous = OFF");
    db->exec("INSERT INTO gateways(name, transport, address, created) VALUES ('g1', 'tcp', '127.0.0.1:5020', 0)");
  }

  std::int64_t add_meter(const std::string& name, const std::string& kind = "electricity") {
    db->prepare("INSERT INTO meters(name, gateway_id, unit, profile, kind, created) VALUES (?1, 1, ?2, 'p', ?3, 0)")
        .bind_all(name, ++m_unit, kind)
        .run();
    return db->last_insert_rowid();
  }

  void add_tariff(const std::string& name, const std::string& body, UnixTime effective = 0) {
    storage::Transaction tx(*db);
    auto v = billing::parse_tariff(body, name + ".toml", effective, config.minor_units);
    billing::add_tariff_version(*db, name, v, body, 0, config.minor_units);
    tx.commit();
  }

  void add_flat(const std::string& name, const std::string& price, UnixTime effective = 0) {
    add_tariff(name, "price = \"" + price + "\"\n", effective);
  }

  billing::Account open(const std::string& id, const std::string& tariff, std::vector<std::string> meters,
                        UnixTime opened = 0, std::optional<std::int64_t> alarm1 = {},
                        std::optional<std::int64_t> alarm2 = {}, std::int64_t credit_limit = 0) {
    billing::OpenAccount r;
    r.id = id;
    r.holder = "Holder of " + id;
    r.tariff = tariff;
    r.meters = std::move(meters);
    if (alarm1) r.alarm1 = Money::from_minor(*alarm1);
    if (alarm2) r.alarm2 = Money::from_minor(*alarm2);
    r.credit_limit = Money::from_minor(credit_limit);
    r.opened = opened;
    storage::Transaction tx(*db);
    auto a = billing::open_account(*db, r);
    tx.commit();
    return a;
  }

  billing::PaymentResult pay(const std::string& account, std::int64_t minor,
                             billing::PaymentKind kind = billing::PaymentKind::sale,
                             std::optional<std::string> ref = {}, UnixTime time = 0) {
    billing::PaymentRequest r;
    r.account = account;
    r.kind = kind;
    r.amount = Money::from_minor(minor);
    r.ref = std::move(ref);
    r.operator_name = "tester";
    r.time = time;
    return billing::post_payment(*db, config, r);
  }

  billing::IngestResult ingest(std::int64_t meter, UnixTime t, std::int64_t value,
                               std::optional<std::int64_t> power = {}) {
    billing::Reading r;
    r.meter_id = meter;
    r.time = t;
    r.value = value;
    r.power = power;
    storage::Transaction tx(*db);
    auto res = biller().ingest(r);
    tx.commit();
    return res;
  }

  // Posts the accumulators of every day that is over (as kwhd does with each write).
  int post_days() {
    storage::Transaction tx(*db);
    int n = biller().post_days_over();
    tx.commit();
    return n;
  }

  // One Biller for the test's life, as kwhd keeps one: what it remembers between readings must
  // follow every change the test makes in between.
  billing::Biller& biller() {
    if (!m_biller) {
      m_biller = std::make_unique<billing::Biller>(*db, config);
      m_biller->set_clock([this] { return clock; });
    }
    return *m_biller;
  }

  std::int64_t balance(const std::string& account) { return billing::find_account(*db, account).balance; }
  std::string status(const std::string& account) { return billing::find_account(*db, account).status; }

  std::int64_t count(const std::string& sql) {
    auto st = db->prepare(sql);
    st.step();
    return st.get_int(0);
  }

  TempDir dir;
  std::unique_ptr<storage::Database> db;
  config::Config config;
  UnixTime clock = 1'800'000'000;

private:
  int m_unit = 0;
  std::unique_ptr<billing::Biller> m_biller;
};

// Restores the site zone to UTC when a test that changed it ends.
struct SiteZone {
  explicit SiteZone(const std::string& zone) { set_site_timezone(zone); }
  ~SiteZone() { set_site_timezone("UTC"); }
};

} // namespace kwh::test
