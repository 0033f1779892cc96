#pragma once
// Standing charges (kwh-tariff(5): standing_charge with standing_period day|month):
// a fixed amount charged to an open account at each site-local day or month boundary. Each
// boundary is one ledger entry of kind 'standing' whose time is the boundary, so the last such
// entry says how far an account has been charged and a charge is never written twice. The
// version in force at the boundary decides the amount; boundaries before the first version
// that has a standing charge, and before the account opened, cost nothing.
//
// Biller::ingest charges them up to each reading's time for the accounts it bills.

#include <kwh/billing/tariff.hpp>
#include <kwh/ledger/ledger.hpp>
#include <kwh/config/config.hpp>

#include <cstdint>

namespace kwh::storage {
class Database;
}

namespace kwh::billing {

// Whether any version of the tariff has a standing charge.
bool has_standing(const TariffHistory& tariff);

// Charges one account's standing charges due up to `until` (caller's transaction); returns the
// minor units charged. `head`: the ledger's newest entry, when the caller keeps it.
std::int64_t charge_standing(storage::Database& db, const config::Config& config, std::int64_t account_id,
                             const TariffHistory& tariff, UnixTime until, ledger::Head* head = nullptr);

// The same for every open account; returns the minor units charged in total.
std::int64_t charge_standing_all(storage::Database& db, const config::Config& config, UnixTime until);

} // namespace kwh::billing
