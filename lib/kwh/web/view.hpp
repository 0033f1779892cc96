#pragma once
// What the tenant's page shows, gathered from the database by tenant.cpp and drawn by page.cpp
// (HTML) and api.cpp (JSON). Plain data: money in minor units, energy in Wh, water in litres.

#include <kwh/util/time.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kwh::web {

struct MeterView {
  std::string name;        // the meter ID
  std::string kind;        // electricity | water
  std::string relay_state; // on | off | unknown
  std::optional<std::string> relay_reason; // arrears, overload, operator
  std::string status;      // online | offline | unknown
};

struct DayView {
  UnixTime day = 0;          // UTC time of the site-local midnight
  std::string label;         // site-local date, "2026-11-03"
  std::int64_t quantity = 0; // Wh (electricity) or litres (water)
  std::int64_t cost = 0;     // minor units charged for the day
};

struct PurchaseView {
  std::int64_t receipt = 0;
  UnixTime time = 0;
  std::string time_text; // site-local "2026-11-03 14:05"
  std::string kind;      // sale | refund
  std::int64_t amount = 0; // minor units, positive
  std::string method;      // cash | card | transfer | online
};

struct ProviderView {
  std::string name;  // as in /webhooks/NAME and [serve.providers.NAME]
  std::string label; // the button's words
};

struct TenantView {
  std::string account; // the account ID
  std::string holder;
  std::string currency; // "CNY"
  int minor_units = 2;
  std::string unit; // "kWh" or "m3": what the tariff sells

  std::int64_t balance = 0;       // minor units, negative in arrears
  std::string status;             // ok | alarm1 | alarm2 | arrears | closed
  std::optional<std::int64_t> alarm1, alarm2;
  std::int64_t credit_limit = 0;
  std::int64_t average_daily_cost = 0;  // over the last 7 whole days, minor units
  std::optional<std::int64_t> days_left; // balance / average, whole days; nullopt: no use or no credit

  std::vector<MeterView> meters;
  std::vector<DayView> days;           // the last 30 site-local days, oldest first, today last
  std::vector<PurchaseView> purchases; // newest first, at most 20

  std::string tariff;                    // its name
  std::vector<std::string> tariff_lines; // the version in force, in words, one line each
  std::optional<std::int64_t> reminder;  // the tenant's own low-balance level, minor units
  // Emergency credit (billing/credit.hpp): what the tenant may take now (none: not offered), and
  // what is owed.
  std::optional<std::int64_t> emergency_offer;
  std::int64_t emergency_owed = 0;

  std::vector<ProviderView> providers; // where the tenant can buy credit online
  std::string csrf;                    // the session's token, for every form
  UnixTime now = 0;
  std::string now_text; // site-local "2026-11-03 14:05"
};

} // namespace kwh::web
