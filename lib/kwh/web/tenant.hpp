#pragma once
// The tenant's view of one account, read from the database for the page and the JSON API, and
// the few things a tenant may change: the reminder level. Reads use the daily rollups and the
// ledger, never raw readings.

#include <kwh/config/config.hpp>
#include <kwh/output/json.hpp>
#include <kwh/web/view.hpp>

#include <optional>
#include <string>

namespace kwh::storage {
class Database;
}

namespace kwh::web {

// The account's page data at `now` (csrf and providers are left for the caller).
// Exit::no_input when the account does not exist.
TenantView load_tenant_view(storage::Database& db, const config::Config& cfg, std::int64_t account_id, UnixTime now);

// The same data for /api/v1/account: money as decimal text, energy in Wh, water in litres.
output::Json tenant_json(const TenantView& v);

// The receipt of a sale or refund of this account, as kwh sell prints it; nullopt when the
// receipt is not the account's.
std::optional<std::string> receipt_text(storage::Database& db, const config::Config& cfg, std::int64_t account_id,
                                        std::int64_t receipt);

// The tariff version in force, in words, one line each ("peak 08:00-11:00 mon-fri: 1.2000 CNY per kWh").
std::vector<std::string> tariff_in_words(storage::Database& db, const config::Config& cfg, std::int64_t tariff_id,
                                         UnixTime now, std::string* unit);

// Sets (or with nullopt clears) the tenant's reminder level, with its audit entry, in one
// transaction. Exit::data for a negative level.
// The tenant takes the emergency credit offered (billing::grant_emergency, with its audit
// entry). Exit::data when it is not offered.
void take_emergency_credit(storage::Database& db, const config::Config& cfg, std::int64_t account_id, UnixTime now);

void set_reminder(storage::Database& db, const config::Config& cfg, std::int64_t account_id,
                  std::optional<std::int64_t> level, UnixTime now);

} // namespace kwh::web
