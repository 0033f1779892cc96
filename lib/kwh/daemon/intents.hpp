#pragma once
// Top-ups sold at the office (`kwh hub sell`), applied at the site: an intent from the hub made
// a sale by the library's sale path, with ledger ref hub:REF so that an intent applied twice
// (the answer to the hub lost) replays the first sale instead of making a second one.

#include <kwh/config/config.hpp>
#include <kwh/hub/intent.hpp>
#include <kwh/hub/pusher.hpp>
#include <kwh/storage/database.hpp>

namespace kwh::daemon {

// In its own transaction, with its audit entry (operator "hub:" and the office's operator).
// Throws kwh::Error as billing::post_payment does (Exit::no_input: unknown account;
// Exit::data: closed account, a ref used for another sale).
hub::Pusher::Sale apply_intent(storage::Database& db, const config::Config& cfg, const hub::Intent& intent,
                               UnixTime t);

} // namespace kwh::daemon
