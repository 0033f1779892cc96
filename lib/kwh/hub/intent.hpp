#pragma once
// Top-ups sold at the office (`kwh hub sell`): an intent row on the hub (table intents, schema
// 2) that the site's pusher applies as a sale in its own database and answers with its receipt
// or the reason it refused. The office writes intents; the site applies them, once each: the
// sale's ledger ref is ledger_ref(ref), so an intent applied again (the answer lost on the
// way back) replays the first sale. Every statement is parameterised.

#include <kwh/hub/pg.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kwh::hub {

struct Intent {
  std::int64_t id = 0;
  std::string site_id, ref, account;
  std::int64_t amount = 0; // minor units, > 0
  std::string method = "cash";
  std::string operator_name;
  std::string created; // the hub's time, as text
  std::string state = "pending"; // pending | done | refused
  std::optional<std::int64_t> receipt, balance;
  std::optional<std::string> error;
};

// The ledger ref at the site for an office sale: "hub:" then the office's ref, apart from the
// refs that the site's own cashiers and webhooks use.
std::string ledger_ref(const std::string& ref);

struct Placed {
  Intent intent;
  bool existing = false; // the ref was there already: nothing new was written
};
// Writes an intent, or finds the one with the same site and ref. Exit::no_input when the hub
// does not know the site; Exit::data when the ref's intent is for another account, amount or
// method.
Placed place_intent(PgConnection& conn, const Intent& intent);
std::optional<Intent> find_intent(PgConnection& conn, const std::string& site_id, const std::string& ref);

// The site's side: its pending intents, oldest first.
std::vector<Intent> pending_intents(PgConnection& conn, const std::string& site_id, int limit);
// The site's answer, written once (an intent no longer pending is left as it is).
void intent_done(PgConnection& conn, std::int64_t id, std::int64_t receipt, std::int64_t balance);
void intent_refused(PgConnection& conn, std::int64_t id, const std::string& error);

} // namespace kwh::hub
